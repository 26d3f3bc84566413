"""What people do in answer to the clocks: acknowledge a page, post a status update, record
the public status-page post, share the postmortem, record the GDPR notification, reopen."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import timeline
from bot.clock import Clock
from bot.clocks import PENDING, ClockPlanner
from bot.commands import MAX_NOTE
from bot.durations import show
from bot.errors import Conflict, IncidentError, retry_on_version_conflict
from bot.roles import Roles
from bot.severity import Status
from bot.text import escape
from storage.db import Database
from storage.models import Clock as ClockRow
from storage.models import Incident


class FollowUpService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        planner: ClockPlanner,
        wake_outbox: Callable[[], None],
        roles: Roles,
    ) -> None:
        self.db = db
        self.clock = clock
        self.planner = planner
        self.wake_outbox = wake_outbox
        self.roles = roles

    def _say(
        self, session: AsyncSession, incident: Incident, actor: str, kind: str, text: str
    ) -> None:
        timeline.record(session, incident, self.clock.now(), actor, kind, text)

    @retry_on_version_conflict()
    async def acknowledge(self, incident_id: int, user: str) -> Incident:
        async with self.db.transaction() as session:
            incident = await timeline.load(session, incident_id)
            if incident.acknowledged_at is not None:
                raise Conflict(
                    f"Already acknowledged by <@{incident.acknowledged_by}> at "
                    f"{incident.acknowledged_at:%H:%M} UTC."
                )
            await timeline.claim(session, incident)
            now = self.clock.now()
            incident.acknowledged_at, incident.acknowledged_by = now, user
            session.add(incident)
            waited = show(now - incident.declared_at) if now > incident.declared_at else "0s"
            self._say(
                session,
                incident,
                user,
                "acknowledged",
                f"acknowledged the page (time to acknowledge: {waited})",
            )
            await self.planner.on_acknowledge(session, incident)
        self.wake_outbox()
        return incident

    @retry_on_version_conflict()
    async def post_update(
        self, incident_id: int, text: str, user: str, broadcast: bool
    ) -> Incident:
        text = text.strip()
        if not text:
            raise IncidentError("The update is empty.")
        if len(text) > MAX_NOTE:
            raise IncidentError(f"The update is {len(text)} characters; keep it to {MAX_NOTE}.")
        async with self.db.transaction() as session:
            incident = await timeline.load(session, incident_id)
            await timeline.claim(session, incident)
            now = self.clock.now()
            incident.last_update, incident.last_update_at = text, now
            session.add(incident)
            timeline.add_event(
                session,
                incident,
                now,
                user,
                "update",
                f":loudspeaker: status update: {escape(text)}",
            )
            # One job per Slack write: the channel, then the #incidents thread.
            update = {"text": text, "user": user, "broadcast": broadcast}
            if incident.channel_id or timeline.has_channel(incident):
                timeline.enqueue(
                    session, incident, now, "post_update", {**update, "to": "incident"}
                )
            if not incident.private:
                timeline.enqueue(session, incident, now, "post_update", {**update, "to": "thread"})
            timeline.enqueue(session, incident, now, "refresh_root")
            await self.planner.on_update(session, incident, now)
        self.wake_outbox()
        return incident

    @retry_on_version_conflict()
    async def status_page_posted(self, incident_id: int, user: str) -> Incident:
        async with self.db.transaction() as session:
            incident = await timeline.load(session, incident_id)
            if incident.status_page_posted_at is not None:
                raise Conflict(
                    f"The status page post was already recorded at "
                    f"{incident.status_page_posted_at:%H:%M} UTC."
                )
            await timeline.claim(session, incident)
            incident.status_page_posted_at = self.clock.now()
            session.add(incident)
            self._say(
                session,
                incident,
                user,
                "status_page",
                "posted the public status page / social update",
            )
            await self.planner.on_status_page(session, incident)
        self.wake_outbox()
        return incident

    @retry_on_version_conflict()
    async def postmortem_done(self, incident_id: int, user: str) -> Incident:
        async with self.db.transaction() as session:
            incident = await timeline.load(session, incident_id)
            self.roles.check_may_steer(incident, user, "mark the postmortem shared")
            if incident.status != Status.RESOLVED.value:
                raise IncidentError("Resolve the incident first; the postmortem comes after.")
            if incident.postmortem_done_at is not None:
                raise Conflict(
                    f"The postmortem was already marked shared at "
                    f"{incident.postmortem_done_at:%Y-%m-%d %H:%M} UTC."
                )
            await timeline.claim(session, incident)
            incident.postmortem_done_at = self.clock.now()
            session.add(incident)
            self._say(session, incident, user, "postmortem", ":memo: shared the postmortem")
            await self.planner.on_postmortem_done(session, incident)
        self.wake_outbox()
        return incident

    @retry_on_version_conflict()
    async def notified(self, incident_id: int, user: str) -> Incident:
        async with self.db.transaction() as session:
            incident = await timeline.load(session, incident_id)
            self.roles.check_may_steer(incident, user, "record the GDPR notification")
            if incident.breach_detected_at is None:
                raise IncidentError(
                    f"INC-{incident_id} has no GDPR clock (it has no data-breach runbook)."
                )
            if incident.notified_at is not None:
                raise Conflict(
                    f"Notification was already recorded at "
                    f"{incident.notified_at:%Y-%m-%d %H:%M} UTC."
                )
            await timeline.claim(session, incident)
            incident.notified_at = self.clock.now()
            session.add(incident)
            self._say(
                session,
                incident,
                user,
                "notified",
                ":scales: recorded that affected users were notified (GDPR Art. 33)",
            )
            await self.planner.on_notified(session, incident)
        self.wake_outbox()
        return incident

    @retry_on_version_conflict()
    async def reopen(self, incident_id: int, user: str) -> Incident:
        async with self.db.transaction() as session:
            incident = await timeline.load(session, incident_id)
            self.roles.check_may_steer(incident, user, "reopen it")
            if incident.status != Status.RESOLVED.value:
                raise Conflict(f"INC-{incident_id} is not resolved.")
            if incident.archived_at is not None:
                raise IncidentError(
                    f"INC-{incident_id}'s channel is archived; declare a new incident instead."
                )
            await timeline.claim(session, incident)
            now = self.clock.now()
            incident.status, incident.resolved_at = Status.INVESTIGATING.value, None
            session.add(incident)
            self._say(
                session,
                incident,
                user,
                "status",
                "reopened the incident",
            )
            timeline.enqueue(session, incident, now, "refresh_root")
            if timeline.has_channel(incident):
                timeline.enqueue(session, incident, now, "refresh_header")
                timeline.enqueue(session, incident, now, "refresh_topic")
            await self.planner.on_reopen(session, incident, now)
        self.wake_outbox()
        return incident

    async def pending_clocks(self, incident_id: int) -> Sequence[ClockRow]:
        async with self.db.session() as session:
            await timeline.load(session, incident_id)
            stmt = (
                select(ClockRow)
                .where(ClockRow.incident_id == incident_id, ClockRow.state == PENDING)
                .order_by(col(ClockRow.due_at))
            )
            return (await session.exec(stmt)).all()
