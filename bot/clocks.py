"""The runbook's promises with times in them: paging and escalation, response targets,
status-update and status-page reminders, postmortem due dates, the GDPR 72-hour clock and
channel archiving.

Every clock is a row written in the transaction of the event that starts it. The scheduler
fires a due row by a compare-and-set (`pending` → `fired`) in the same transaction as the
timeline row and the Slack writes (outbox) of the firing: nothing lives only in memory, and a
clock fires once even across restarts and replicas. Clocks that came due while the bot was
down fire late, once, saying "(late)"."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import timeline
from bot.business_time import BusinessCalendar
from bot.clock import Clock
from bot.durations import show
from bot.severity import Severity, Status
from storage import coordination, queries
from storage.db import Database
from storage.models import Clock as ClockRow
from storage.models import Incident

log = logging.getLogger(__name__)

PENDING, FIRED, CANCELLED, FAILED = "pending", "fired", "cancelled", "failed"


class _Busy(Exception):  # noqa: N818 - a signal to roll back and retry on the next pass
    pass


ESCALATE, RESPONSE, UPDATE, STATUS_PAGE = "escalate", "response", "update", "status_page"
POSTMORTEM_REMINDER, POSTMORTEM_OVERDUE = "postmortem_reminder", "postmortem_overdue"
GDPR, GDPR_DEADLINE, ARCHIVE = "gdpr", "gdpr_deadline", "archive"
OPEN_KINDS = (ESCALATE, RESPONSE, UPDATE, STATUS_PAGE)
GDPR_WINDOW = timedelta(hours=72)
GDPR_REMINDERS = (24, 48, 66, 71)
LATE_AFTER = timedelta(minutes=1)
# Clocks one scheduler pass fires at most; the rest wait for the next pass.
MAX_PER_PASS = 200
LABELS = {
    ESCALATE: "Escalate to the backup engineer",
    RESPONSE: "Response target",
    UPDATE: "Status update reminder",
    STATUS_PAGE: "Public status page reminder",
    POSTMORTEM_REMINDER: "Postmortem reminder",
    POSTMORTEM_OVERDUE: "Postmortem due",
    GDPR: "GDPR notification reminder",
    GDPR_DEADLINE: "GDPR notification deadline (72 h)",
    ARCHIVE: "Channel archive",
}


@dataclass(frozen=True)
class ClockConfig:
    oncall_primary: str | None
    oncall_backup: str | None
    escalate_after: timedelta
    update_every: dict[Severity, timedelta]
    status_page_after: timedelta
    postmortem_reminder: timedelta
    postmortem_due: timedelta
    archive_after: timedelta
    calendar: BusinessCalendar


def _add(
    session: AsyncSession,
    incident: Incident,
    kind: str,
    due: datetime,
    now: datetime,
    data: dict[str, object] | None = None,
) -> None:
    session.add(
        ClockRow(
            incident_id=incident.id,
            kind=kind,
            due_at=due,
            created_at=now,  # type: ignore[arg-type]
            data=json.dumps(data) if data else None,
        )
    )


async def cancel(session: AsyncSession, incident_id: int, kinds: Iterable[str]) -> None:
    await session.exec(
        update(ClockRow)  # type: ignore[call-overload]
        .where(
            col(ClockRow.incident_id) == incident_id,
            col(ClockRow.kind).in_(list(kinds)),
            col(ClockRow.state) == PENDING,
        )
        .values(state=CANCELLED)
    )


class ClockPlanner:
    """Starts and stops clocks as the incident changes (inside the caller's transaction)."""

    def __init__(self, config: ClockConfig) -> None:
        self.config = config

    def page(
        self, session: AsyncSession, incident: Incident, now: datetime, user: str, level: str
    ) -> None:
        # One job per Slack write, so a retry never sends a page twice.
        payload = {"user": user, "level": level}
        timeline.enqueue(session, incident, now, "page_dm", payload)
        if timeline.has_channel(incident):
            if level == "backup":
                timeline.enqueue(session, incident, now, "invite", {"users": [user]})
            timeline.enqueue(session, incident, now, "page_channel", payload)

    def on_declare(
        self, session: AsyncSession, incident: Incident, now: datetime, gdpr_from: datetime | None
    ) -> None:
        severity = Severity(incident.severity)
        due = self.config.calendar.response_due(severity, incident.declared_at)
        if due is not None:
            _add(session, incident, RESPONSE, due, now)
        if severity.has_channel:
            self._start_open_clocks(session, incident, now)
        if gdpr_from is not None:
            self.start_gdpr(session, incident, now, gdpr_from)

    def _start_open_clocks(self, session: AsyncSession, incident: Incident, now: datetime) -> None:
        config = self.config
        severity = Severity(incident.severity)
        if incident.acknowledged_at is None and config.oncall_primary:
            self.page(session, incident, now, config.oncall_primary, "primary")
            if config.oncall_backup:
                _add(session, incident, ESCALATE, now + config.escalate_after, now)
        _add(session, incident, UPDATE, now + config.update_every[severity], now)
        if incident.status_page_posted_at is None:
            _add(
                session, incident, STATUS_PAGE, incident.declared_at + config.status_page_after, now
            )

    def start_gdpr(
        self, session: AsyncSession, incident: Incident, now: datetime, detected: datetime
    ) -> None:
        incident.breach_detected_at = detected
        for hours in GDPR_REMINDERS:
            _add(session, incident, GDPR, detected + timedelta(hours=hours), now, {"hours": hours})
        _add(session, incident, GDPR_DEADLINE, detected + GDPR_WINDOW, now)

    async def on_severity(
        self, session: AsyncSession, incident: Incident, old: Severity, now: datetime
    ) -> None:
        new = Severity(incident.severity)
        await cancel(session, incident.id, [RESPONSE])  # type: ignore[arg-type]
        if incident.acknowledged_at is None:
            due = self.config.calendar.response_due(new, incident.declared_at)
            if due is not None:
                _add(session, incident, RESPONSE, max(due, now), now)
        if new.has_channel and not old.has_channel:
            self._start_open_clocks(session, incident, now)
        elif new.has_channel and old.has_channel and new is not old:
            # P1 and P2 may have different update intervals.
            await cancel(session, incident.id, [UPDATE])  # type: ignore[arg-type]
            _add(session, incident, UPDATE, now + self.config.update_every[new], now)
        elif old.has_channel and not new.has_channel:
            await cancel(session, incident.id, [UPDATE, STATUS_PAGE, ESCALATE])  # type: ignore[arg-type]

    async def on_acknowledge(self, session: AsyncSession, incident: Incident) -> None:
        await cancel(session, incident.id, [ESCALATE, RESPONSE])  # type: ignore[arg-type]

    async def on_update(self, session: AsyncSession, incident: Incident, now: datetime) -> None:
        severity = Severity(incident.severity)
        await cancel(session, incident.id, [UPDATE])  # type: ignore[arg-type]
        if severity.has_channel and incident.status != Status.RESOLVED.value:
            _add(session, incident, UPDATE, now + self.config.update_every[severity], now)

    async def on_status_page(self, session: AsyncSession, incident: Incident) -> None:
        await cancel(session, incident.id, [STATUS_PAGE])  # type: ignore[arg-type]

    async def on_resolve(self, session: AsyncSession, incident: Incident, now: datetime) -> None:
        await cancel(session, incident.id, OPEN_KINDS)  # type: ignore[arg-type]
        if Severity(incident.severity).has_channel and incident.postmortem_done_at is None:
            _add(session, incident, POSTMORTEM_REMINDER, now + self.config.postmortem_reminder, now)
            _add(session, incident, POSTMORTEM_OVERDUE, now + self.config.postmortem_due, now)
        if incident.channel_id and self.config.archive_after > timedelta(0):
            _add(session, incident, ARCHIVE, now + self.config.archive_after, now)

    async def on_reopen(self, session: AsyncSession, incident: Incident, now: datetime) -> None:
        await cancel(session, incident.id, [ARCHIVE, POSTMORTEM_REMINDER, POSTMORTEM_OVERDUE])  # type: ignore[arg-type]
        incident.postmortem_done_at = None  # a second resolve owes a new review
        severity = Severity(incident.severity)
        if incident.acknowledged_at is None:
            due = self.config.calendar.response_due(severity, incident.declared_at)
            if due is not None:
                _add(session, incident, RESPONSE, max(due, now), now)
        if severity.has_channel:
            self._start_open_clocks(session, incident, now)

    async def on_postmortem_done(self, session: AsyncSession, incident: Incident) -> None:
        await cancel(session, incident.id, [POSTMORTEM_REMINDER, POSTMORTEM_OVERDUE])  # type: ignore[arg-type]

    async def on_notified(self, session: AsyncSession, incident: Incident) -> None:
        await cancel(session, incident.id, [GDPR, GDPR_DEADLINE])  # type: ignore[arg-type]


class DailyJob(Protocol):
    async def run_if_due(self) -> bool: ...


Firing = Callable[[AsyncSession, Incident, ClockRow, datetime, str], Awaitable[None]]


class Scheduler:
    """One loop that fires due clocks; see the module docstring for why it fires once."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: ClockConfig,
        wake_outbox: Callable[[], None],
        *,
        interval: float = 5.0,
        digest: DailyJob | None = None,
        jobs: Sequence[DailyJob] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.wake_outbox = wake_outbox
        self.interval = interval
        self.digest = digest
        # Other periodic jobs claimed the same way (the health watch). Each runs in a task of its
        # own, at most one at a time, so a slow HTTP poll never holds up an escalation.
        self.jobs = tuple(jobs)
        self._job_tasks: dict[int, asyncio.Task[None]] = {}
        # A clock is "late" only if it fired well after a pass could have caught it.
        self.late_after = max(LATE_AFTER, timedelta(seconds=2 * interval))
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Completed passes; lets a test know the scheduler looked after time moved.
        self.passes = 0
        self._firings: dict[str, Firing] = {
            ESCALATE: self._escalate,
            RESPONSE: self._response,
            UPDATE: self._update,
            STATUS_PAGE: self._status_page,
            POSTMORTEM_REMINDER: self._postmortem,
            POSTMORTEM_OVERDUE: self._postmortem,
            GDPR: self._gdpr,
            GDPR_DEADLINE: self._gdpr,
            ARCHIVE: self._archive,
        }

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="clock-scheduler")

    async def stop(self) -> None:
        self._stopping = True
        tasks = [t for t in (self._task, *self._job_tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except Exception:
                log.exception("clock pass failed; will try again")
            await asyncio.sleep(self.interval)

    async def run_once(self) -> int:
        now = self.clock.now()
        fired = 0
        # Clocks this pass could not fire (their incident was busy, or they failed): the next
        # claim must pass over them rather than pick them again.
        passed_over: list[int] = []
        for _ in range(MAX_PER_PASS):
            clock_id, done = await self._fire_next(now, passed_over)
            if clock_id is None:
                break
            if done:
                fired += 1
            else:
                passed_over.append(clock_id)
        if self.digest is not None and await self.digest.run_if_due():
            fired += 1
        for index, job in enumerate(self.jobs):
            running = self._job_tasks.get(index)
            if running is None or running.done():
                name = f"periodic-{type(job).__name__}"
                self._job_tasks[index] = asyncio.create_task(self._run_job(job), name=name)
        if fired:
            self.wake_outbox()
        self.passes += 1
        return fired

    @property
    def jobs_busy(self) -> bool:
        """Whether a periodic job is still running (tests wait for it after a pass)."""
        return any(not task.done() for task in self._job_tasks.values())

    async def _run_job(self, job: DailyJob) -> None:
        try:
            if await job.run_if_due():
                self.wake_outbox()
        except Exception:
            log.exception("periodic job %s failed; will try again", type(job).__name__)

    async def _fire_next(self, now: datetime, passed_over: list[int]) -> tuple[int | None, bool]:
        """Claim the next due clock and fire it, all in one transaction: (its id or None when
        none is due, whether it fired)."""
        clock_id: int | None = None
        due = [col(ClockRow.state) == PENDING, col(ClockRow.due_at) <= now]
        if passed_over:
            due.append(col(ClockRow.id).not_in(passed_over))
        try:
            async with self.db.transaction() as session:
                # Claimed by one replica only (storage/coordination.py); the others pass
                # over it and take the next due clock.
                clock_id = await coordination.claim(
                    session,
                    ClockRow.id,
                    *due,
                    values={"state": FIRED, "fired_at": now},
                    order_by=(col(ClockRow.due_at), col(ClockRow.id)),
                )
                if clock_id is None:
                    return None, False
                await self._fire(session, clock_id, now)
        except _Busy:
            return clock_id, False  # the incident changed under us; the next pass sees it fresh
        except Exception:
            if clock_id is None:
                raise
            # One bad clock must not hold back the others: park it, visibly.
            log.exception("clock %s failed to fire; marked as failed", clock_id)
            await self._park(clock_id)
            return clock_id, False
        return clock_id, True

    async def _fire(self, session: AsyncSession, clock_id: int, now: datetime) -> None:
        row = await session.get(ClockRow, clock_id)
        if row is None:
            return
        # The firing is a change of the incident too: it must not interleave with an
        # acknowledgement, a resolve or a reopen deciding on the same incident. It does not
        # wait for one either (that could deadlock with a request that locked the incident
        # first and now cancels this clock): a busy incident is tried again next pass.
        incident = await coordination.lock_incident(session, row.incident_id)
        if incident is None or not await queries.claim_version(session, incident):
            raise _Busy
        late = " (late)" if now - row.due_at > self.late_after else ""
        log.info("clock %s (%s) of INC-%s fired%s", row.id, row.kind, incident.id, late)
        await self._firings[row.kind](session, incident, row, now, late)
        session.add(incident)

    async def _park(self, clock_id: int) -> None:
        async with self.db.transaction() as session:
            await session.exec(
                update(ClockRow)  # type: ignore[call-overload]
                .where(col(ClockRow.id) == clock_id, col(ClockRow.state) == PENDING)
                .values(state=FAILED)
            )

    # ---- what each clock does ------------------------------------------------------------

    def _say(
        self,
        session: AsyncSession,
        incident: Incident,
        now: datetime,
        kind: str,
        text: str,
        *,
        mirror: bool = True,
    ) -> None:
        timeline.add_event(session, incident, now, "bot", kind, text)
        line = f"`{now:%H:%M}` {text}"
        if mirror:
            timeline.announce(session, incident, now, line)
        else:
            timeline.enqueue(session, incident, now, "post_event", {"text": line, "to": "incident"})

    async def _escalate(
        self, session: AsyncSession, incident: Incident, row: ClockRow, now: datetime, late: str
    ) -> None:
        backup = self.config.oncall_backup
        if incident.acknowledged_at is not None or not backup:
            return
        waited = show(self.config.escalate_after)
        self._say(
            session,
            incident,
            now,
            "escalation",
            f":rotating_light: No acknowledgement after {waited}: escalating to the "
            f"backup engineer <@{backup}>{late}",
        )
        ClockPlanner(self.config).page(session, incident, now, backup, "backup")

    async def _response(
        self, session: AsyncSession, incident: Incident, row: ClockRow, now: datetime, late: str
    ) -> None:
        if incident.acknowledged_at is not None:
            return
        target = Severity(incident.severity).response_target
        self._say(
            session,
            incident,
            now,
            "reminder",
            f":alarm_clock: Response target ({target}) passed without an "
            f"acknowledgement. `/incident ack` when someone is on it{late}",
        )

    async def _update(
        self, session: AsyncSession, incident: Incident, row: ClockRow, now: datetime, late: str
    ) -> None:
        severity = Severity(incident.severity)
        if incident.status == Status.RESOLVED.value or not severity.has_channel:
            return  # a stray reminder of an incident that no longer needs them
        every = self.config.update_every[severity]
        timeline.add_event(
            session,
            incident,
            now,
            "bot",
            "reminder",
            f"reminded <@{incident.commander_id}> to post a status update{late}",
        )
        timeline.enqueue(
            session,
            incident,
            now,
            "post_update_reminder",
            {"every": show(every), "late": bool(late)},
        )
        # Keep reminding while nobody updates; an update reschedules it.
        session.add(
            ClockRow(
                incident_id=incident.id,
                kind=UPDATE,
                due_at=now + every,  # type: ignore[arg-type]
                created_at=now,
            )
        )

    async def _status_page(
        self, session: AsyncSession, incident: Incident, row: ClockRow, now: datetime, late: str
    ) -> None:
        if incident.status_page_posted_at is not None:
            return
        timeline.add_event(
            session,
            incident,
            now,
            "bot",
            "reminder",
            f"reminded the team to post on the public status page{late}",
        )
        timeline.enqueue(
            session,
            incident,
            now,
            "post_status_page_reminder",
            {"late": bool(late), "open_for": show(now - incident.declared_at)},
        )

    async def _postmortem(
        self, session: AsyncSession, incident: Incident, row: ClockRow, now: datetime, late: str
    ) -> None:
        if incident.postmortem_done_at is not None:
            return
        if row.kind == POSTMORTEM_OVERDUE:
            text = (
                f":memo: <@{incident.commander_id}> the postmortem of INC-{incident.id} is "
                f"overdue (due {show(self.config.postmortem_due)} after resolve){late}. "
                "`/incident postmortem done` when it is shared."
            )
        else:
            left = show(self.config.postmortem_due - self.config.postmortem_reminder)
            text = (
                f":memo: <@{incident.commander_id}> the postmortem of INC-{incident.id} is "
                f"due in {left}{late}. `/incident postmortem done` when it is shared."
            )
        self._say(session, incident, now, "reminder", text, mirror=False)

    async def _gdpr(
        self, session: AsyncSession, incident: Incident, row: ClockRow, now: datetime, late: str
    ) -> None:
        if incident.notified_at is not None or incident.breach_detected_at is None:
            return
        deadline = incident.breach_detected_at + GDPR_WINDOW
        if row.kind == GDPR_DEADLINE:
            text = (
                f":rotating_light: GDPR: the 72-hour notification deadline "
                f"({deadline:%Y-%m-%d %H:%M} UTC) has passed without `/incident notified`"
                f"{late}."
            )
        else:
            left = deadline - now
            hours = max(0, int(left.total_seconds() // 3600))
            text = (
                f":scales: GDPR: affected users must be notified by "
                f"{deadline:%Y-%m-%d %H:%M} UTC — {hours} h left{late}. "
                "`/incident notified` once they are."
            )
        self._say(session, incident, now, "reminder", text, mirror=False)

    async def _archive(
        self, session: AsyncSession, incident: Incident, row: ClockRow, now: datetime, late: str
    ) -> None:
        if incident.status != Status.RESOLVED.value or not incident.channel_id:
            return
        incident.archived_at = now
        session.add(incident)
        timeline.add_event(session, incident, now, "bot", "archived", f"archived the channel{late}")
        timeline.enqueue(session, incident, now, "post_archive_note")
        timeline.enqueue(session, incident, now, "archive_channel")
