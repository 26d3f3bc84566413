"""Incidents: declare, change, note, resolve. Each change is one transaction that writes the
incident, its timeline row and the Slack writes that mirror it (through the outbox)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import alert_cards, timeline
from bot.clock import Clock
from bot.clocks import ClockPlanner
from bot.commands import MAX_NOTE, MAX_TITLE
from bot.documents import Documents
from bot.errors import (
    Conflict,
    IncidentError,
    NotFound,
    NotInIncident,
    retry_on_version_conflict,
)
from bot.roles import Roles
from bot.runbooks import RunbookSet
from bot.severity import Severity, Status
from bot.similarity import overlap, words
from bot.text import escape, one_line, truncate
from storage import coordination, queries
from storage.db import Database
from storage.models import Incident, StepRun, TimelineEvent
from storage.queries import DocumentEvent

TIMELINE_PAGE = 20


@dataclass(frozen=True)
class Declaration:
    title: str
    severity: Severity
    declared_by: str
    description: str | None = None
    runbook_id: str | None = None
    private: bool = False
    # When the problem was first detected (breaches start their GDPR clock from it).
    detected_at: datetime | None = None
    # The alert this declare answers (its card's Declare button, or auto-declare).
    alert_id: int | None = None


@dataclass(frozen=True)
class Resolution:
    root_cause: str
    impact_users: str | None = None
    impact_revenue: str | None = None
    went_well: str | None = None
    to_improve: str | None = None
    action_items: str | None = None


@dataclass(frozen=True)
class Page:
    incident: Incident
    events: Sequence[TimelineEvent]
    page: int
    pages: int


class IncidentService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        incidents_channel: str,
        oncall_primary: str | None,
        oncall_backup: str | None,
        documents: Documents,
        wake_outbox: Callable[[], None],
        runbooks: RunbookSet,
        planner: ClockPlanner,
        roles: Roles,
    ) -> None:
        self.db = db
        self.clock = clock
        self.incidents_channel = incidents_channel
        self.oncall_primary = oncall_primary
        self.oncall_backup = oncall_backup
        self.documents = documents
        self.wake_outbox = wake_outbox
        self.runbooks = runbooks
        self.planner = planner
        self.roles = roles

    def known_runbook(self, runbook_id: str) -> bool:
        return runbook_id in self.runbooks

    # ---- reading -------------------------------------------------------------------------

    async def get(self, incident_id: int) -> Incident:
        async with self.db.session() as session:
            incident = await queries.incident(session, incident_id)
        if incident is None:
            raise NotFound(f"There is no incident INC-{incident_id}.")
        return incident

    async def find(self, ref: int | None, channel_id: str, usage: str) -> Incident:
        """The incident a command acts on: named as INC-<n>, or the one of this channel."""
        if ref is not None:
            incident = await self.get(ref)
            if incident.private and channel_id != incident.channel_id:
                raise NotFound(f"INC-{ref} is private: work it from its own channel.", usage)
            return incident
        async with self.db.session() as session:
            incident = await queries.incident_for_place(
                session, channel_id, None, self.incidents_channel
            )
        if incident is None:
            raise NotInIncident(
                "This channel is not an incident channel: run the command in the incident's "
                "channel, or name the incident, e.g. INC-3.",
                usage,
            )
        return incident

    async def open_incidents(self) -> Sequence[Incident]:
        async with self.db.session() as session:
            return await queries.open_incidents(session)

    async def similar_open(self, title: str) -> Incident | None:
        # Runs on every declare, in the worst hour: the database returns only the open titles
        # that share a word with this one (not every open incident), titles only, not rows.
        wanted = words(title)
        async with self.db.session() as session:
            candidates = await queries.open_public_titles(session, wanted)
        match = next((i for i, other in candidates if overlap(wanted, words(other))), None)
        return await self.get(match) if match is not None else None

    async def timeline_page(self, incident: Incident, page: int) -> Page:
        async with self.db.session() as session:
            total = await queries.timeline_count(session, incident.id)  # type: ignore[arg-type]
            pages = max(1, math.ceil(total / TIMELINE_PAGE))
            if page > pages:
                raise IncidentError(f"INC-{incident.id}'s timeline has {pages} page(s).")
            events = await queries.timeline(
                session,
                incident.id,  # type: ignore[arg-type]
                offset=(page - 1) * TIMELINE_PAGE,
                limit=TIMELINE_PAGE,
            )
        return Page(incident, events, page, pages)

    async def ensure_open(self, incident_id: int) -> None:
        """Raise, saying who resolved it and when, if the incident is resolved."""
        async with self.db.session() as session:
            await self._open_for_change(session, incident_id)

    # ---- declaring -----------------------------------------------------------------------

    async def declare(self, declaration: Declaration) -> Incident:
        title = one_line(declaration.title)
        if not title:
            raise IncidentError("The title is empty: say what is happening.")
        if len(title) > MAX_TITLE:
            raise IncidentError(f"The title is {len(title)} characters; keep it to {MAX_TITLE}.")
        runbook = None
        if declaration.runbook_id:
            runbook = self.runbooks.get(declaration.runbook_id)
            if runbook is None:
                raise IncidentError(
                    f"There is no runbook `{escape(declaration.runbook_id)}`. "
                    f"Runbooks: {', '.join(self.runbooks.ids())}."
                )
        # A breach stays among the people working it, whoever forgot --private.
        private = declaration.private or bool(runbook and runbook.private)
        now = self.clock.now()
        async with self.db.transaction() as session:
            incident = Incident(
                # INC-<n>: gap-free and unique across replicas (storage/coordination.py).
                id=await coordination.next_number(session, "incident"),
                title=title,
                severity=declaration.severity.value,
                status=Status.INVESTIGATING.value,
                commander_id=declaration.declared_by,
                declared_by=declaration.declared_by,
                description=(declaration.description or "").strip() or None,
                runbook_id=declaration.runbook_id,
                private=private,
                declared_at=now,
            )
            session.add(incident)
            await session.flush()
            self._event(
                session,
                incident,
                now,
                declaration.declared_by,
                "declared",
                f"declared {declaration.severity.value}: {escape(title)}",
            )
            self._enqueue(session, incident, "refresh_root")
            # Private incidents always get a (private) channel: #incidents must not hold them.
            if declaration.severity.has_channel or private:
                self._open_channel(session, incident)
            if runbook is not None:
                self._event(
                    session,
                    incident,
                    now,
                    declaration.declared_by,
                    "runbook",
                    f"attached the runbook *{escape(runbook.title)}* (`{runbook.id}`)",
                )
                self._enqueue(session, incident, "refresh_runbook")
            detected = declaration.detected_at
            if detected is not None and detected < now:
                self._event(
                    session,
                    incident,
                    detected,
                    declaration.declared_by,
                    "detected",
                    "first detected",
                )
            gdpr_from = (detected or now) if runbook and runbook.starts_gdpr_clock else None
            self.planner.on_declare(session, incident, now, gdpr_from)
            if declaration.alert_id is not None:
                await alert_cards.link_declared(
                    session, declaration.alert_id, incident, declaration.declared_by, now
                )
        self.wake_outbox()
        return incident

    def _open_channel(self, session: AsyncSession, incident: Incident) -> None:
        severity = Severity(incident.severity)
        invitees = [incident.declared_by, incident.commander_id, self.oncall_primary]
        if severity is Severity.P1:
            invitees.append(self.oncall_backup)
        users = list(dict.fromkeys(u for u in invitees if u))
        self._enqueue(session, incident, "create_channel")
        self._enqueue(session, incident, "invite", {"users": users})
        self._enqueue(session, incident, "refresh_topic")
        self._enqueue(session, incident, "refresh_header")
        self._enqueue(session, incident, "pin_header")
        self._enqueue(session, incident, "bookmark")
        self._enqueue(session, incident, "refresh_root")

    # ---- changing ------------------------------------------------------------------------

    @retry_on_version_conflict()
    async def set_severity(self, incident_id: int, severity: Severity, actor: str) -> Incident:
        async with self.db.transaction() as session:
            incident = await self._open_for_change(session, incident_id)
            self.roles.check_may_steer(incident, actor, "change the severity")
            old = Severity(incident.severity)
            if old is severity:
                raise Conflict(f"INC-{incident_id} is already {severity.value}.")
            incident.severity = severity.value
            now = await self._touch(session, incident)
            verb = "raised" if severity < old else "lowered"
            event = self._event(
                session,
                incident,
                now,
                actor,
                "severity",
                f"{verb} severity {old.value} → *{severity.value}*",
                {"from": old.value, "to": severity.value},
            )
            if severity.has_channel and not timeline.has_channel_before(incident, old):
                self._open_channel(session, incident)
            self._announce(session, incident, event)
            self._refresh_all(session, incident)
            await self.planner.on_severity(session, incident, old, now)
        self.wake_outbox()
        return incident

    @retry_on_version_conflict()
    async def set_status(self, incident_id: int, status: Status, actor: str) -> Incident:
        if status is Status.RESOLVED:
            raise IncidentError("Resolve with `/incident resolve`: it asks for the root cause.")
        async with self.db.transaction() as session:
            incident = await self._open_for_change(session, incident_id)
            self.roles.check_may_steer(incident, actor, "change the status")
            old = Status(incident.status)
            if old is status:
                raise Conflict(f"INC-{incident_id} is already {status.label}.")
            incident.status = status.value
            now = await self._touch(session, incident)
            event = self._event(
                session,
                incident,
                now,
                actor,
                "status",
                f"set status {old.label} → *{status.label}*",
                {"from": old.value, "to": status.value},
            )
            self._announce(session, incident, event)
            self._refresh_all(session, incident)
        self.wake_outbox()
        return incident

    @retry_on_version_conflict()
    async def set_commander(self, incident_id: int, commander: str, actor: str) -> Incident:
        async with self.db.transaction() as session:
            incident = await self._open_for_change(session, incident_id)
            self.roles.check_may_steer(incident, actor, "hand over command")
            if incident.commander_id == commander:
                raise Conflict(f"<@{commander}> is already commanding INC-{incident_id}.")
            old = incident.commander_id
            incident.commander_id = commander
            now = await self._touch(session, incident)
            event = self._event(
                session,
                incident,
                now,
                actor,
                "commander",
                f"handed command from <@{old}> to <@{commander}>",
                {"from": old, "to": commander},
            )
            if timeline.has_channel(incident):
                self._enqueue(session, incident, "invite", {"users": [commander]})
            self._announce(session, incident, event)
            self._refresh_all(session, incident)
        self.wake_outbox()
        return incident

    async def add_note(self, incident_id: int, text: str, actor: str) -> TimelineEvent:
        text = text.strip()
        if not text:
            raise IncidentError("The note is empty.")
        if len(text) > MAX_NOTE:
            raise IncidentError(f"The note is {len(text)} characters; keep it to {MAX_NOTE}.")
        async with self.db.transaction() as session:
            incident = await queries.incident(session, incident_id)
            if incident is None:
                raise NotFound(f"There is no incident INC-{incident_id}.")
            event = self._event(
                session,
                incident,
                self.clock.now(),
                actor,
                "note",
                f":memo: noted: {escape(text)}",
            )
            self._announce(session, incident, event)
        self.wake_outbox()
        return event

    @retry_on_version_conflict()
    async def resolve(self, incident_id: int, resolution: Resolution, actor: str) -> Incident:
        if not resolution.root_cause.strip():
            raise IncidentError("The root cause is required.")
        async with self.db.transaction() as session:
            incident = await self._open_for_change(session, incident_id)
            self.roles.check_may_steer(incident, actor, "resolve it")
            now = await self._touch(session, incident)
            old = Status(incident.status)
            incident.status = Status.RESOLVED.value
            incident.resolved_at = now
            incident.root_cause = resolution.root_cause.strip()
            incident.impact_users = _clean(resolution.impact_users)
            incident.impact_revenue = _clean(resolution.impact_revenue)
            incident.went_well = _clean(resolution.went_well)
            incident.to_improve = _clean(resolution.to_improve)
            incident.action_items = _clean(resolution.action_items)
            event = self._event(
                session,
                incident,
                now,
                actor,
                "resolved",
                f":white_check_mark: resolved. Root cause: "
                f"{escape(truncate(one_line(incident.root_cause), 500))}",
                {"from": old.value, "to": Status.RESOLVED.value},
            )
            events = await queries.document_timeline(session, incident.id)  # type: ignore[arg-type]
            runs = await queries.runs_for_incident(session, incident.id)  # type: ignore[arg-type]
            incident.postmortem_md = await self._render_postmortem(incident, events, runs)
            self._announce(session, incident, event)
            self._refresh_all(session, incident)
            # The postmortem first: the summary in #incidents links to it.
            self._enqueue(session, incident, "upload_postmortem")
            if incident.breach_detected_at is not None:
                self._enqueue(session, incident, "upload_breach_notice")
            self._enqueue(session, incident, "post_resolved")
            if not incident.private:
                self._enqueue(session, incident, "post_summary")
            await self.planner.on_resolve(session, incident, now)
        self.wake_outbox()
        return incident

    @retry_on_version_conflict()
    async def edit_review(self, incident_id: int, review: Resolution, actor: str) -> Incident:
        """Change the resolve form's answers after the fact; the postmortem follows."""
        if not review.root_cause.strip():
            raise IncidentError("The root cause is required.")
        async with self.db.transaction() as session:
            incident = await queries.incident(session, incident_id)
            if incident is None:
                raise NotFound(f"There is no incident INC-{incident_id}.")
            if incident.status != Status.RESOLVED.value:
                raise IncidentError(f"INC-{incident_id} is not resolved yet.")
            self.roles.check_may_steer(incident, actor, "edit the review")
            await self._touch(session, incident)
            incident.root_cause = review.root_cause.strip()
            incident.impact_users = _clean(review.impact_users)
            incident.impact_revenue = _clean(review.impact_revenue)
            incident.went_well = _clean(review.went_well)
            incident.to_improve = _clean(review.to_improve)
            incident.action_items = _clean(review.action_items)
            self._event(
                session,
                incident,
                self.clock.now(),
                actor,
                "review",
                "edited the post-incident review",
            )
        return await self.rerender_postmortem(incident_id, actor)

    async def rerender_postmortem(self, incident_id: int, actor: str) -> Incident:
        """Render the postmortem again from the current timeline, store it and post it."""
        async with self.db.transaction() as session:
            incident = await queries.incident(session, incident_id)
            if incident is None:
                raise NotFound(f"There is no incident INC-{incident_id}.")
            if incident.status != Status.RESOLVED.value:
                raise IncidentError(
                    f"INC-{incident_id} is not resolved yet; the postmortem is drafted on resolve."
                )
            events = await queries.document_timeline(session, incident_id)
            runs = await queries.runs_for_incident(session, incident_id)
            incident.postmortem_md = await self._render_postmortem(incident, events, runs)
            session.add(incident)
            self._enqueue(session, incident, "upload_postmortem")
        self.wake_outbox()
        return incident

    # ---- helpers ---------------------------------------------------------------------------

    async def _render_postmortem(
        self, incident: Incident, events: Sequence[DocumentEvent], runs: Sequence[StepRun]
    ) -> str:
        """Rendered in a worker thread: a long incident's document takes half a second of
        CPU (50,000 rows), and on the event loop every request arriving meanwhile would wait
        that long for its answer; in a thread the loop still gets the interpreter every 0.5 ms
        (the switch interval handlers/server.py sets). The rows are plain tuples and the
        incident's fields are loaded: the thread reads, it never touches the session."""
        return await asyncio.to_thread(self.documents.postmortem, incident, events, runs)

    async def _open_for_change(self, session: AsyncSession, incident_id: int) -> Incident:
        incident = await timeline.load(session, incident_id)
        if incident.status == Status.RESOLVED.value:
            done = await queries.events_of_kind(session, incident_id, "resolved")
            by = f" by <@{done[-1].actor}> at {done[-1].at:%H:%M} UTC" if done else ""
            raise Conflict(f"INC-{incident_id} is already resolved{by}.")
        return incident

    async def _touch(self, session: AsyncSession, incident: Incident) -> datetime:
        await timeline.claim(session, incident)
        return self.clock.now()

    def _event(
        self,
        session: AsyncSession,
        incident: Incident,
        at: datetime,
        actor: str,
        kind: str,
        text: str,
        data: dict[str, object] | None = None,
    ) -> TimelineEvent:
        return timeline.add_event(session, incident, at, actor, kind, text, data)

    def _enqueue(
        self,
        session: AsyncSession,
        incident: Incident,
        op: str,
        payload: dict[str, object] | None = None,
    ) -> None:
        timeline.enqueue(session, incident, self.clock.now(), op, payload)

    def _announce(self, session: AsyncSession, incident: Incident, event: TimelineEvent) -> None:
        timeline.announce(session, incident, self.clock.now(), timeline.line(event))

    def _refresh_all(self, session: AsyncSession, incident: Incident) -> None:
        self._enqueue(session, incident, "refresh_root")
        if timeline.has_channel(incident):
            self._enqueue(session, incident, "refresh_header")
            self._enqueue(session, incident, "refresh_topic")


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None
