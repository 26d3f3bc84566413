"""Alerts: a signal from monitoring becomes a card in #incidents offering "Declare", a line on
the timeline of the open incident already working it, or (by rule) an incident.

Each alert is stored with its card's Slack write (outbox) in one transaction. Repeats of a dedup
key within the dedup window only bump the count (the card is edited, not posted again)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import alert_cards, timeline
from bot.alert_cards import ATTACHED, DISMISSED, OPEN
from bot.alert_sources import Signal
from bot.clock import Clock
from bot.errors import Conflict, IncidentError, NotFound
from bot.incidents import Declaration, IncidentService
from bot.severity import Status
from bot.text import safe
from bot.ui import alerts as alerts_ui
from storage import alert_queries, coordination, queries
from storage.db import Database
from storage.models import Alert

log = logging.getLogger(__name__)

POSTED, UPDATED, JOINED, DECLARED_NOW = "posted", "updated", "attached", "declared"
RECOVERED, IGNORED = "recovered", "ignored"


@dataclass(frozen=True)
class Received:
    alert_id: int | None
    outcome: str
    incident_id: int | None = None


class AlertService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        incidents: IncidentService,
        wake_outbox: Callable[[], None],
        *,
        dedup_window: timedelta,
        auto_declare: Collection[str] = (),
        auto_commander: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.incidents = incidents
        self.wake_outbox = wake_outbox
        self.dedup_window = dedup_window
        self.auto_declare = set(auto_declare)
        self.auto_commander = auto_commander
        # A monitoring tool may send the same alert several times at once; one at a time
        # here, so the second sees the first and counts instead of posting a second card.
        self._receiving = asyncio.Lock()

    # ---- receiving ----------------------------------------------------------------------

    async def receive(self, signal: Signal) -> Received:
        if signal.recovered:
            return await self.recover(signal.dedup_key)
        async with self._receiving, self.db.transaction() as session:
            # Replicas too: two of them given the same alert at once must still make one card.
            await coordination.serialize(session, "alert-receipts")
            now = self.clock.now()
            received = await self._repeat(session, signal, now)
            if received is None:
                received = await self._new(session, signal, now)
        self.wake_outbox()
        if received.outcome == POSTED and self._auto(signal):
            return await self._auto_declare(received, signal)
        return received

    async def _repeat(
        self, session: AsyncSession, signal: Signal, now: datetime
    ) -> Received | None:
        recent = await alert_queries.latest_with_key(
            session, signal.dedup_key, now - self.dedup_window
        )
        if recent is None or recent.recovered_at is not None:
            return None
        if recent.incident_id is not None:
            incident = await queries.incident(session, recent.incident_id)
            if incident is None or incident.status == Status.RESOLVED.value:
                return None  # that incident is over: this is news again
        recent.count += 1
        recent.last_at = now
        session.add(recent)
        if recent.state != ATTACHED:
            alert_cards.enqueue(session, recent, now)
        log.info("alert #%s (%s) seen again: %d times", recent.id, recent.source, recent.count)
        return Received(recent.id, UPDATED, recent.incident_id)

    async def _new(self, session: AsyncSession, signal: Signal, now: datetime) -> Received:
        alert = Alert(
            source=signal.source,
            dedup_key=signal.dedup_key,
            title=signal.title,
            severity=signal.severity.value,
            runbook_id=signal.runbook_id,
            service=signal.service,
            link=signal.link,
            details=signal.details,
            state=OPEN,
            first_at=now,
            last_at=now,
        )
        working = (
            await alert_queries.open_incident_with_runbook(session, signal.runbook_id)
            if signal.runbook_id
            else None
        )
        if working is not None:
            alert.state = ATTACHED
            alert.incident_id = working.id
        session.add(alert)
        await session.flush()
        if working is None:
            alert_cards.enqueue(session, alert, now)
            log.info("alert #%s (%s, %s) posted", alert.id, alert.source, alert.severity)
            return Received(alert.id, POSTED)
        line = alerts_ui.timeline_text(alert)
        timeline.add_event(session, working, now, "bot", "alert", line, {"alert": alert.id})
        timeline.announce(session, working, now, f"`{now:%H:%M}` {line}")
        log.info("alert #%s (%s) added to INC-%s", alert.id, alert.source, working.id)
        return Received(alert.id, JOINED, working.id)

    def _auto(self, signal: Signal) -> bool:
        return bool(self.auto_commander) and bool(
            {signal.severity.value, signal.runbook_id} & self.auto_declare
        )

    async def _auto_declare(self, received: Received, signal: Signal) -> Received:
        assert received.alert_id is not None and self.auto_commander is not None
        async with self.db.session() as session:
            alert = await session.get(Alert, received.alert_id)
        assert alert is not None
        declaration = Declaration(
            title=signal.title,
            severity=signal.severity,
            declared_by=self.auto_commander,
            description=alerts_ui.description(alert),
            runbook_id=signal.runbook_id,
            alert_id=alert.id,
        )
        try:
            incident = await self.incidents.declare(declaration)
        except IncidentError as exc:
            # The card stays, with its Declare button: a person can still take it from here.
            log.warning("alert #%s: auto-declare refused: %s", alert.id, exc.message)
            return received
        log.info("alert #%s declared automatically as INC-%s", alert.id, incident.id)
        return Received(alert.id, DECLARED_NOW, incident.id)

    # ---- recovery -----------------------------------------------------------------------

    async def recover(self, dedup_key: str) -> Received:
        """The monitored thing is fine again: say so on the alert's card (and its incident)."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            alert = await alert_queries.unrecovered_with_key(session, dedup_key)
            if alert is None:
                return Received(None, IGNORED)
            alert.recovered_at = now
            session.add(alert)
            name = alerts_ui.source_name(alert.source)
            text = f":white_check_mark: {name}: recovered at {now:%H:%M} UTC"
            if alert.state != ATTACHED:
                alert_cards.enqueue(session, alert, now)
                alert_cards.enqueue(session, alert, now, alert_cards.NOTE, {"text": text})
            incident = (
                await queries.incident(session, alert.incident_id) if alert.incident_id else None
            )
            if incident is not None and incident.status != Status.RESOLVED.value:
                line = f"alert #{alert.id} recovered: {safe(alert.title, 300)}"
                timeline.add_event(session, incident, now, "bot", "alert", line)
                timeline.announce(
                    session, incident, now, f"`{now:%H:%M}` :white_check_mark: {line}"
                )
        self.wake_outbox()
        log.info("alert #%s recovered", alert.id)
        return Received(alert.id, RECOVERED, alert.incident_id)

    # ---- people deciding ------------------------------------------------------------------

    async def for_declare(self, alert_id: int) -> Alert:
        """The alert a Declare click is about, if it is still undecided."""
        async with self.db.session() as session:
            alert = await session.get(Alert, alert_id)
        if alert is None:
            raise NotFound(f"There is no alert #{alert_id}.")
        if alert.state != OPEN:
            raise Conflict(alert_cards.taken(alert))
        return alert

    async def dismiss(self, alert_id: int, user: str) -> Alert:
        now = self.clock.now()
        async with self.db.transaction() as session:
            alert = await session.get(Alert, alert_id)
            if alert is None:
                raise NotFound(f"There is no alert #{alert_id}.")
            if not await alert_queries.decide(
                session, alert_id, DISMISSED, decided_by=user, decided_at=now
            ):
                await session.refresh(alert)
                raise Conflict(alert_cards.taken(alert))
            await session.refresh(alert)
            alert_cards.enqueue(session, alert, now)
        self.wake_outbox()
        log.info("alert #%s dismissed by %s", alert_id, user)
        return alert
