"""The Slack outbox: state changes and the Slack writes that mirror them commit together; a
worker delivers the writes in order per lane, retrying what Slack may still accept.

Why: the database is the truth. A Slack post that fails is kept and retried (429 honours
Retry-After, 5xx and network errors back off), and given up only on errors that will never
succeed (channel_not_found, invalid_auth, …), which are logged and counted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from sqlalchemy import and_, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from storage import coordination
from storage.db import Database
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

PENDING, SENDING, DONE, FAILED = "pending", "sending", "done", "failed"
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
MAX_BACKOFF = timedelta(minutes=5)
REPORT_OP = "report_failure"
# Past this many attempts even a retryable error is given up on, so a lane cannot stall forever.
MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class Job:
    id: int
    lane: str
    incident_id: int | None
    op: str
    payload: dict[str, object]
    attempts: int


Executor = Callable[[Job], Awaitable[None]]


class Superseded(Exception):  # noqa: N818 - a signal, not an error
    """Raised by an executor when a newer job makes this one pointless."""


class PermanentError(Exception):
    """An executor's own verdict that retrying cannot help."""


def enqueue(
    session: AsyncSession,
    *,
    now: datetime,
    lane: str,
    op: str,
    payload: Mapping[str, object] | None = None,
    incident_id: int | None = None,
    not_before: datetime | None = None,
) -> None:
    """Add a Slack write to the caller's transaction: it exists only if the change commits."""
    session.add(
        OutboxMessage(
            lane=lane,
            incident_id=incident_id,
            op=op,
            payload=json.dumps(dict(payload or {})),
            not_before=not_before or now,
            created_at=now,
        )
    )


async def _open_gate() -> None:
    return None


def _retry_delay(exc: BaseException, attempts: int) -> timedelta | None:
    """How long to wait before retrying, or None when the error is permanent."""
    backoff = min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if status == 429 or error == "ratelimited":
            retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after"
            )
            if isinstance(retry_after, list):
                retry_after = retry_after[0]
            try:
                return timedelta(seconds=max(1, int(retry_after)))
            except (TypeError, ValueError):
                return backoff
        if status >= 500 or error in RETRYABLE_ERRORS:
            return backoff
        return None
    # SlackRequestError: the file upload URL answered non-200 (its own server trouble).
    retryable = aiohttp.ClientError | asyncio.TimeoutError | OSError | SlackRequestError
    if isinstance(exc, retryable):
        return backoff
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        data = exc.response.data
        error = data.get("error") if isinstance(data, dict) else None
        return f"{exc.response.status_code} {error or 'error'}"
    return f"{type(exc).__name__}: {exc}"[:300]


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        executors: Mapping[str, Executor],
        *,
        poll_interval: float = 0.5,
        concurrency: int = 8,
        owner: str = "",
    ) -> None:
        self.db = db
        # This replica's id, written on the rows it is sending (bot/replicas.py).
        self.owner = owner
        self.clock = clock
        self.executors = executors
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._limit = asyncio.Semaphore(concurrency)
        # Ids whose delivery failed with an error around the database (the outcome could not
        # be stored): they may be left 'sending' under this live replica's id, which nobody
        # else takes over, so reclaim queues them again. None of them is being sent: a
        # 'sending' row is never picked again until it is queued again.
        self._left: set[int] = set()
        # Completed passes; lets a test know the worker looked after time moved.
        self.passes = 0
        # Awaited before each delivery: the HTTP server sets it to hold back (briefly) while
        # requests wait for their answer, since deliveries share the event loop with them.
        self.gate: Callable[[], Awaitable[None]] = _open_gate

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def reclaim(self, since: datetime) -> int:
        """Queue again the writes a dead replica was sending (see bot/replicas.py), and those
        this one left 'sending' and is no longer sending. Slack may or may not have them;
        sending again is the lesser harm for mirrors (they are refreshes or notes). Another
        live replica's writes are left to it."""
        left = list(self._left)
        left_by_me = and_(col(OutboxMessage.owner) == self.owner, col(OutboxMessage.id).in_(left))
        async with self.db.transaction() as session:
            result = await session.exec(
                update(OutboxMessage)  # type: ignore[call-overload]
                .where(
                    col(OutboxMessage.state) == SENDING,
                    or_(coordination.orphaned(OutboxMessage.owner, since), left_by_me),
                )
                .values(state=PENDING, owner=None)
            )
        self._left.difference_update(left)
        return result.rowcount

    async def stop(self, grace: float = 10.0) -> None:
        """Let the delivery in flight finish (within `grace` seconds); what is still queued
        stays in the outbox for the next start."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                delivered = await self.run_once()
                if self._stopping:
                    break
            except Exception:
                log.exception("outbox pass failed; will try again")
                delivered = 0
            if delivered:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def run_once(self) -> int:
        """Deliver the head job of every lane that is due; returns how many were attempted."""
        jobs = await self._due_heads()
        if jobs:
            await asyncio.gather(*(self._deliver(job) for job in jobs))
        self.passes += 1
        return len(jobs)

    async def _due_heads(self) -> list[Job]:
        now = self.clock.now()
        async with self.db.session() as session:
            heads = (
                select(func.min(OutboxMessage.id))
                .where(col(OutboxMessage.state).in_([PENDING, SENDING]))
                .group_by(OutboxMessage.lane)
            )
            rows = (
                await session.exec(
                    select(OutboxMessage).where(
                        col(OutboxMessage.id).in_(heads),
                        OutboxMessage.state == PENDING,
                        OutboxMessage.not_before <= now,
                    )
                )
            ).all()
        return [
            Job(r.id, r.lane, r.incident_id, r.op, json.loads(r.payload), r.attempts)  # type: ignore[arg-type]
            for r in rows
        ]

    async def _claim(self, job: Job) -> bool:
        """Take the job for this replica; False if another replica took it first."""
        async with self.db.transaction() as session:
            claimed = await coordination.claim(
                session,
                OutboxMessage.id,
                col(OutboxMessage.id) == job.id,
                col(OutboxMessage.state) == PENDING,
                values={
                    "state": SENDING,
                    "attempts": OutboxMessage.attempts + 1,
                    "owner": self.owner,
                },
            )
            return claimed is not None

    async def _finish(self, job: Job, *, report: bool = False, **values: object) -> None:
        async with self.db.transaction() as session:
            finished = await session.exec(
                update(OutboxMessage)  # type: ignore[call-overload]
                # Only while it is still ours: had this replica been presumed dead, the job
                # belongs to whoever took it over.
                .where(col(OutboxMessage.id) == job.id, col(OutboxMessage.owner) == self.owner)
                .values(**values)
            )
            if finished.rowcount != 1:
                log.warning("outbox %s was taken over by another replica meanwhile", job.id)
                return
            if report and job.op != REPORT_OP:
                # Said in #incidents when Slack takes messages again (a report that fails
                # itself is only logged, so this cannot loop).
                enqueue(
                    session,
                    now=self.clock.now(),
                    lane=REPORT_OP,
                    op=REPORT_OP,
                    payload={
                        "op": job.op,
                        "error": values.get("last_error"),
                        "incident": job.incident_id,
                    },
                )

    async def _deliver(self, job: Job) -> None:
        async with self._limit:
            if job.id in self._left:
                return  # reclaim looks at it first (it may still be 'sending' under this id)
            await self.gate()
            try:
                await self._send(job)
            except Exception:
                self._left.add(job.id)
                raise

    async def _send(self, job: Job) -> None:
        if not await self._claim(job):
            return
        executor = self.executors.get(job.op)
        try:
            if executor is None:
                raise PermanentError(f"no executor for op {job.op!r}")
            await executor(job)
        except Superseded:
            await self._finish(job, state=DONE, done_at=self.clock.now(), last_error="superseded")
            return
        except Exception as exc:  # noqa: BLE001 - every failure is classified below
            await self._failed(job, exc)
            return
        await self._finish(job, state=DONE, done_at=self.clock.now(), last_error=None)

    async def _failed(self, job: Job, exc: BaseException) -> None:
        attempts = job.attempts + 1
        delay = None if isinstance(exc, PermanentError) else _retry_delay(exc, attempts)
        if attempts >= MAX_ATTEMPTS:
            delay = None
        reason = _describe(exc)
        if delay is None:
            if isinstance(exc, SlackApiError | PermanentError):
                log.error(
                    "outbox %s %s (lane %s) failed for good: %s", job.id, job.op, job.lane, reason
                )
            else:
                log.exception(
                    "outbox %s %s (lane %s) failed for good", job.id, job.op, job.lane, exc_info=exc
                )
            await self._finish(job, state=FAILED, last_error=reason, report=True)
            return
        log.warning(
            "outbox %s %s (lane %s) attempt %d failed (%s); retrying in %ss",
            job.id,
            job.op,
            job.lane,
            attempts,
            reason,
            int(delay.total_seconds()),
        )
        await self._finish(
            job, state=PENDING, last_error=reason, not_before=self.clock.now() + delay
        )

    async def counts(self) -> dict[str, int]:
        async with self.db.session() as session:
            rows = (
                await session.exec(
                    select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
                )
            ).all()
        return {state: count for state, count in rows}
