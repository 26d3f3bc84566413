"""The App Home tab: who sees which incidents, what waits on each viewer, and republishing
it (debounced) when an incident changes.

Every change to an incident queues Slack writes in the outbox, in its own transaction. A loop
(`run_once`, every CLOCK_INTERVAL) reads the outbox's newest id: when it has moved, the
incidents of the new rows are the ones that changed, and for each recent viewer who can see one
of them it queues a `publish_home` job on the viewer's own lane, due `debounce` later, unless
one is already waiting (it renders from the database when it goes out, so it will show the
change). A burst of changes is one publish per viewer, and nothing is written per change
when nobody has opened Home."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func
from sqlmodel import select

from bot import outbox
from bot.clock import Clock
from bot.durations import show
from bot.outbox import PENDING, Executor, Job, Superseded
from bot.runbooks import RunbookSet
from bot.text import safe
from bot.ui import format as fmt
from bot.ui import home as home_ui
from bot.ui.messages import incident_ref
from storage import queries
from storage.db import Database
from storage.models import Incident, OutboxMessage, StepRun

log = logging.getLogger(__name__)

PUBLISH = "publish_home"
TASK_NAME = "home-refresh"
DEBOUNCE = timedelta(seconds=5)
# Private channels' members, asked of Slack at most this often per channel.
MEMBERS_TTL = timedelta(seconds=60)
# Viewers who have not opened Home for this long are no longer republished (Slack keeps
# showing their last view; opening it again publishes a fresh one).
RECENT = timedelta(days=14)


def publish_lane(user: str) -> str:
    return f"home:{user}"


@dataclass
class _Members:
    users: frozenset[str]
    fetched_at: datetime


class HomeService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        client: AsyncWebClient,
        runbooks: RunbookSet,
        *,
        incidents_channel: str,
        approvers: Iterable[str],
        postmortem_due: timedelta,
        wake_outbox: Callable[[], None],
        debounce: timedelta = DEBOUNCE,
    ) -> None:
        self.db = db
        self.clock = clock
        self.client = client
        self.runbooks = runbooks
        self.incidents_channel = incidents_channel
        self.approvers = set(approvers)
        self.postmortem_due = postmortem_due
        self.wake_outbox = wake_outbox
        self.debounce = debounce
        self._members: dict[str, _Members] = {}
        self._member_locks: dict[str, asyncio.Lock] = {}
        self._watermark = 0
        self._task: asyncio.Task[None] | None = None
        # Completed refresh passes; lets a test know one looked after a change.
        self.passes = 0

    def executors(self) -> Mapping[str, Executor]:
        return {PUBLISH: self.on_publish}

    # ---- opening -------------------------------------------------------------------------

    async def opened(self, user: str) -> None:
        """The viewer opened the Home tab: remember them and publish theirs now."""
        async with self.db.transaction() as session:
            await queries.remember_home_viewer(session, user, self.clock.now())
        try:
            await self.publish(user)
        except (SlackApiError, OSError, TimeoutError) as exc:
            # Slack throttled or failed: leave it to the outbox, which retries and paces.
            log.info("publishing Home failed (%s); queued for the outbox", type(exc).__name__)
            async with self.db.transaction() as session:
                outbox.enqueue(
                    session,
                    now=self.clock.now(),
                    lane=publish_lane(user),
                    op=PUBLISH,
                    payload={"user": user},
                )
            self.wake_outbox()

    async def publish(self, user: str) -> None:
        await self.client.views_publish(user_id=user, view=await self.view_for(user))

    # ---- who may see what ------------------------------------------------------------------

    async def can_see(self, incident: Incident, user: str) -> bool:
        """Public incidents: everyone. Private ones: their channel's members (before the
        channel exists, or if Slack cannot say: the declarer and the commander)."""
        if not incident.private:
            return True
        if user in (incident.declared_by, incident.commander_id):
            return True
        if not incident.channel_id:
            return False
        return user in await self._channel_members(incident.channel_id)

    async def _channel_members(self, channel: str) -> frozenset[str]:
        # One question to Slack at a time per channel: viewers opening Home together share it.
        async with self._member_locks.setdefault(channel, asyncio.Lock()):
            return await self._fetch_members(channel)

    async def _fetch_members(self, channel: str) -> frozenset[str]:
        now = self.clock.now()
        cached = self._members.get(channel)
        if cached is not None and now - cached.fetched_at < MEMBERS_TTL:
            return cached.users
        users: set[str] = set()
        cursor: str | None = None
        try:
            while True:
                response = await self.client.conversations_members(
                    channel=channel, cursor=cursor, limit=200
                )
                users.update(response.get("members") or [])
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as exc:
            # Fail closed: a private incident stays hidden rather than shown to everyone.
            log.warning("could not list members of a private incident channel: %s", exc)
            return cached.users if cached else frozenset()
        members = frozenset(users)
        self._members[channel] = _Members(members, now)
        return members

    # ---- what a viewer sees ----------------------------------------------------------------

    async def view_for(self, user: str) -> dict[str, object]:
        now = self.clock.now()
        async with self.db.session() as session:
            incidents = await queries.open_incidents(session)
            paged = await queries.paged_users(session, [i.id for i in incidents])  # type: ignore[misc]
            approvals = await queries.awaiting_approval(session)
            owed = await queries.postmortems_open(session, commander=user)
        visible = [i for i in incidents if await self.can_see(i, user)]
        by_id = {i.id: i for i in visible}
        pending: list[home_ui.Pending] = []
        for incident in visible:
            if incident.acknowledged_at is None and user in paged.get(incident.id, set()):  # type: ignore[arg-type]
                pending.append(
                    home_ui.Pending(
                        f":rotating_light: Acknowledge the page for {self._named(incident)}"
                    )
                )
        if user in self.approvers:
            for run in approvals:
                incident = by_id.get(run.incident_id)
                if incident is None or run.requested_by == user:
                    continue
                pending.append(
                    home_ui.Pending(
                        f":lock: Approve or deny *{safe(self._step_label(run), 100)}* for "
                        f"{self._named(incident)}, asked by {fmt.user(run.requested_by)}"
                    )
                )
        for incident in owed:
            assert incident.resolved_at is not None
            due = incident.resolved_at + self.postmortem_due
            when = f"overdue by {show(now - due)}" if now > due else f"due in {show(due - now)}"
            pending.append(
                home_ui.Pending(f":memo: The postmortem of {self._named(incident)} is {when}")
            )
        return home_ui.home_view(
            home_ui.HomeData(
                viewer=user,
                now=now,
                incidents_channel=self.incidents_channel,
                incidents=visible,
                pending=pending,
            )
        )

    def _named(self, incident: Incident) -> str:
        where = f" in {fmt.channel(incident.channel_id)}" if incident.channel_id else ""
        return f"*{incident_ref(incident)}* ({safe(incident.title, 120)}){where}"

    def _step_label(self, run: StepRun) -> str:
        runbook = self.runbooks.get(run.runbook_id)
        step = runbook.step(run.step_id) if runbook else None
        return step.label if step is not None else run.step_id

    # ---- republishing ----------------------------------------------------------------------

    async def start(self, interval: float) -> None:
        async with self.db.session() as session:
            # Changes made before this start were shown by the process that made them (or
            # will be, by the next change or opening).
            self._watermark = await queries.last_outbox_id(session)
        self._task = asyncio.create_task(self._run(interval), name=TASK_NAME)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, interval: float) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("Home refresh pass failed; will try again")
            await asyncio.sleep(interval)

    async def run_once(self) -> int:
        """Queue debounced publishes for the viewers of incidents changed since the last
        pass; returns how many were queued."""
        now = self.clock.now()
        async with self.db.session() as session:
            top = await queries.last_outbox_id(session)
            if top <= self._watermark:
                self.passes += 1
                return 0
            # (On Postgres a transaction may commit after a later id was seen; its incident is
            # then missed by this pass and shown at its next change or opening.)
            ids = await queries.incidents_queued_between(session, self._watermark, top)
            self._watermark = top
            viewers = await queries.home_viewers(session, now - RECENT)
            if not ids or not viewers:
                self.passes += 1
                return 0
            changed = [i for i in [await queries.incident(session, n) for n in ids] if i]
            waiting = await queries.pending_lanes(session, [publish_lane(u) for u in viewers])
        # Outside the session: deciding visibility may ask Slack for a channel's members.
        due = [
            user
            for user in viewers
            if publish_lane(user) not in waiting and await self._sees_any(changed, user)
        ]
        if due:
            async with self.db.transaction() as session:
                for user in due:
                    outbox.enqueue(
                        session,
                        now=now,
                        not_before=now + self.debounce,
                        lane=publish_lane(user),
                        op=PUBLISH,
                        payload={"user": user},
                    )
        self.passes += 1
        return len(due)

    async def _sees_any(self, incidents: Sequence[Incident], user: str) -> bool:
        for incident in incidents:
            if await self.can_see(incident, user):
                return True
        return False

    async def on_publish(self, job: Job) -> None:
        async with self.db.session() as session:
            newer = (
                await session.exec(
                    select(func.count()).where(
                        OutboxMessage.lane == job.lane,
                        OutboxMessage.state == PENDING,
                        OutboxMessage.id > job.id,
                    )
                )
            ).one()
        if newer:
            raise Superseded
        await self.publish(str(job.payload["user"]))
