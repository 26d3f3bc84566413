"""Acknowledge first, work after.

Slack wants each request answered within 3 s, and the answer is all the person waits for;
the work a command starts (database writes, replies, Slack calls) can follow. Bolt runs each
listener to its end before it answers (`process_before_response`, set in handlers.server), so
`split` runs the listener as a task of its own and lets Bolt answer as soon as the listener
has called ack(): no polling for the ack, and the listener's work starts after the answer.

That work is bounded and yields: at most `WORKERS` listeners past their ack do their work at
once (a slot is freed at the listener's first reply, so a slow response_url holds nobody up,
and after `SLOT_HOLD`, so a slow runbook action or Web API call does not either);
work from one channel starts in the order it came (`LANE_WAIT` at most behind the one before);
and it waits (`WORK_WAIT` at most) while requests keep coming: until none has started for
`GAP` and none is waiting for its answer. Waiting work costs memory, not Slack's deadline (the
request is answered), and none is dropped. On SIGTERM the server stops taking requests and
`drain` waits for all of it.

Why a gap and not "no request in progress": one event loop answers requests one after the
other, so between any two requests of a burst none is in progress, and work let in there
runs its steps between the next ones' answers (measured: the bot's p99 under a burst rose
with the work done during it, not with the acknowledgements' own cost, which is below a bare
Bolt app's)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

# Listeners past their ack doing their work at once. Their steps share the one event loop
# with the acknowledgements; more at once would only make each answer wait behind more of them.
WORKERS = 2
# Of those, how many may start while requests are waiting for their answer: in a burst the
# work still goes on (none starves), one at a time, and takes both slots again once it is quiet.
BUSY_WORKERS = 1
# How long work waits for the work before it from the same channel, at most: long enough for
# its database writes, short enough that a runbook action (up to ACTION_TIMEOUT) running for
# one click does not hold up the channel's other commands.
LANE_WAIT = 0.25
# Requests are "still coming" until none has started for this long (seconds): under a burst
# they start every fraction of a millisecond; at 200 a second, every 5 ms.
GAP = 0.002
# How long work holds back while requests keep coming, at most (so it still makes progress
# under a steady stream of them; well inside the 3 s a form's trigger_id lives).
WORK_WAIT = 0.5
# The same for a Slack write from the outbox, shorter: one is small, and Slack's pacing
# (about one message a second a channel) already spreads them out.
WRITE_WAIT = 0.05
# How long work keeps its slot, at most. Work still going after that is waiting on something
# slow (a runbook action up to ACTION_TIMEOUT, a slow Web API), not using the loop; holding
# the slot would keep everyone else's work from starting (a form's trigger_id dies in 3 s).
SLOT_HOLD = 1.0
log = logging.getLogger(__name__)


class _Pool:
    """The running loop's work slots and lanes: one event loop is the resource shared out."""

    def __init__(self) -> None:
        self.slots = asyncio.Semaphore(WORKERS)
        self.busy_slots = asyncio.Semaphore(BUSY_WORKERS)
        self.tails: dict[str, asyncio.Future[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()  # listeners running past their ack
        self.answering = 0  # requests between the listener's start and its answer
        self.quiet = asyncio.Event()  # set: no request waiting and none started for GAP
        self.quiet.set()
        self.last_start = time.monotonic()
        self.loop = asyncio.get_running_loop()
        self.timer_armed = False

    def started(self) -> None:
        self.answering += 1
        self.quiet.clear()
        self.last_start = time.monotonic()

    def answered(self) -> None:
        self.answering -= 1
        self._check_quiet()

    def _check_quiet(self) -> None:
        if self.answering:
            return  # answered() checks again
        since = time.monotonic() - self.last_start
        if since >= GAP:
            self.quiet.set()
        elif not self.timer_armed:
            self.timer_armed = True
            self.loop.call_later(GAP - since, self._timer)

    def _timer(self) -> None:
        self.timer_armed = False
        self._check_quiet()

    async def until_quiet(self, at_most: float) -> None:
        """Wait (`at_most` seconds) while requests keep coming."""
        if not self.quiet.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.quiet.wait(), at_most)

    async def admit(self) -> bool:
        """A work slot, once requests stop coming (or WORK_WAIT passed): work yields to
        answers, and still makes progress under a steady stream of them. True if it was taken
        while requests were coming: then it holds one of the BUSY_WORKERS."""
        await self.until_quiet(WORK_WAIT)
        await self.slots.acquire()
        if self.quiet.is_set():
            return False
        try:
            await self.busy_slots.acquire()
        except BaseException:
            self.slots.release()
            raise
        return True

    def release(self, busy: bool) -> None:
        self.slots.release()
        if busy:
            self.busy_slots.release()


_pools: dict[asyncio.AbstractEventLoop, _Pool] = {}


def _pool() -> _Pool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)  # on every request: no throwaway pool built when there is one
    if pool is None:
        for other in [known for known in _pools if known.is_closed()]:
            del _pools[other]
        pool = _pools[loop] = _Pool()
    return pool


def since_request() -> float:
    """Seconds since a request of the running loop last reached its listener."""
    return time.monotonic() - _pool().last_start


async def yield_to_answers() -> None:
    """Wait while requests keep coming (WRITE_WAIT at most): for background work of the same
    loop (Slack writes from the outbox) that nobody is waiting for."""
    await _pool().until_quiet(WRITE_WAIT)


async def drain(grace: float) -> int:
    """Wait (`grace` seconds at most) for the work of every answered request, queued or
    running; how many were still unfinished after that."""
    pool = _pools.get(asyncio.get_running_loop())
    if pool is None or not pool.tasks:
        return 0
    log.info("waiting for the work of %d answered request(s)", len(pool.tasks))
    _done, pending = await asyncio.wait(set(pool.tasks), timeout=grace)
    return len(pending)


def _lane(body: dict[str, Any]) -> str:
    """Requests from one channel (one incident, mostly) start their work in the order they
    came: two notes typed one after the other are stored in that order."""
    event = body.get("event") or {}
    channel = (
        body.get("channel_id")
        or (body.get("channel") or {}).get("id")
        or event.get("channel")
        or (event.get("item") or {}).get("channel")
    )
    if channel:
        return "channel:" + channel
    user = body.get("user_id") or (body.get("user") or {}).get("id") or ""
    return "user:" + user


async def split(kwargs: dict[str, Any], run: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """Run `run(kwargs)` until it calls ack() (or ends) and return then; the rest goes on in
    a task of its own: after the answer, after the lane's earlier work (LANE_WAIT at most), in
    a free slot. Slot and lane are let go at the listener's first reply (its database work is
    done by then; the reply is an HTTP call that need not hold anyone up) or at its end."""
    pool = _pool()
    loop = asyncio.get_running_loop()
    acked: asyncio.Future[None] = loop.create_future()
    answered: asyncio.Future[None] = loop.create_future()
    key = _lane(kwargs.get("body") or {})
    before = pool.tails.get(key)
    mine: asyncio.Future[None] = loop.create_future()
    pool.tails[key] = mine
    held: bool | None = None  # a slot (True: one of the busy ones), None when not holding one
    hold_timer: asyncio.TimerHandle | None = None
    waited = False  # ack() was called and the work has waited its turn

    def free_slot() -> None:
        nonlocal held
        if held is not None:
            pool.release(held)
            held = None

    def let_go() -> None:
        free_slot()
        if hold_timer is not None:
            hold_timer.cancel()
        if not mine.done():
            mine.set_result(None)
        if pool.tails.get(key) is mine:
            del pool.tails[key]

    ack = kwargs["ack"]

    async def ack_then_wait(*args: Any, **ack_kwargs: Any) -> None:
        nonlocal held, hold_timer, waited
        await ack(*args, **ack_kwargs)
        if waited:
            return  # a second ack() (Bolt ignores it too)
        waited = True
        if not acked.done():
            acked.set_result(None)
        await answered  # the answer goes out before any of the work
        if before is not None:
            # Not `await before`: cancelling this task must not cancel that one.
            await asyncio.wait({before}, timeout=LANE_WAIT)
        held = await pool.admit()
        hold_timer = loop.call_later(SLOT_HOLD, free_slot)

    respond = kwargs.get("respond")

    async def let_go_then_respond(*args: Any, **respond_kwargs: Any) -> Any:
        let_go()
        send = _shared(respond, getattr(kwargs.get("client"), "session", None))
        return await send(*args, **respond_kwargs)

    async def listener() -> None:
        changed = {"ack": ack_then_wait}
        if respond is not None:
            changed["respond"] = let_go_then_respond
        try:
            await run({**kwargs, **changed})
        finally:
            let_go()

    def ended(task: asyncio.Task[None]) -> None:
        pool.tasks.discard(task)
        if not acked.done():
            acked.set_result(None)  # a listener that never called ack(): Bolt answers anyway

    pool.started()
    task = loop.create_task(listener())
    pool.tasks.add(task)
    task.add_done_callback(ended)
    try:
        # Not asyncio.wait(): one future and one callback per request, on the answer's path.
        # (Cancelled here, e.g. the client went away, `acked` is cancelled: the work still
        # waits its turn, see ack_then_wait.)
        await acked
    finally:
        pool.answered()
        answered.set_result(None)


def _shared(respond: Any, session: aiohttp.ClientSession | None) -> Callable[..., Awaitable[Any]]:
    """Bolt's respond() opens a session and a connection per reply (a TLS handshake with
    hooks.slack.com each); this posts the same message through the bot's one session when
    the listener has the client that carries it."""
    url = getattr(respond, "response_url", None)
    if session is None or not url:
        return respond  # type: ignore[no-any-return]

    async def post(**fields: Any) -> WebhookResponse:
        return await AsyncWebhookClient(url=url, session=session).send(**fields)

    return post


Listener = Callable[..., Awaitable[None]]


def after_ack(listener: Listener) -> Listener:
    """`split` for a listener with nobody to tell about an error (events): it is logged."""

    async def run(kwargs: dict[str, Any]) -> None:
        try:
            await listener(**kwargs)
        except Exception:
            log.exception("listener %s failed", listener.__name__)

    @functools.wraps(listener)
    async def wrapper(**kwargs: Any) -> None:
        await split(kwargs, run)

    return wrapper
