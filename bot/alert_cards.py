"""Alert cards in #incidents: queued in the caller's transaction, delivered by the outbox.

The card is rendered from the database at delivery (like the #incidents root message), so a
burst of repeats ends in one up-to-date edit. `link_declared` is how a declare made from an
alert (the button's form, or auto-declare) claims the alert, in the declare's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, timeline
from bot.errors import Conflict, NotFound
from bot.mirror import SlackMirror
from bot.outbox import Executor, Job, PermanentError, Superseded
from bot.runbooks import RunbookSet
from bot.text import escape
from bot.ui import alerts as alerts_ui
from storage import alert_queries
from storage.models import Alert, Incident

REFRESH, NOTE = "refresh_alert_card", "post_alert_note"
OPEN, DECLARED, DISMISSED, ATTACHED = "open", "declared", "dismissed", "attached"


def lane(alert_id: int) -> str:
    return f"alert-{alert_id}"


def enqueue(
    session: AsyncSession,
    alert: Alert,
    now: datetime,
    op: str = REFRESH,
    payload: dict[str, object] | None = None,
) -> None:
    outbox.enqueue(
        session,
        now=now,
        lane=lane(alert.id),  # type: ignore[arg-type]
        op=op,
        payload={"alert": alert.id, **(payload or {})},
    )


def taken(alert: Alert) -> str:
    """Why an alert can no longer be declared or dismissed, for the person who clicked."""
    at = f" at {alert.decided_at:%H:%M} UTC" if alert.decided_at else ""
    by = f" by <@{alert.decided_by}>" if alert.decided_by else ""
    if alert.state == DECLARED:
        return f"This alert was already declared as INC-{alert.incident_id}{by}{at}."
    if alert.state == DISMISSED:
        return f"This alert was dismissed{by}{at}."
    return f"This alert was added to INC-{alert.incident_id}'s timeline."


async def link_declared(
    session: AsyncSession, alert_id: int, incident: Incident, actor: str, now: datetime
) -> None:
    """Mark the alert declared as `incident` (compare-and-set), note it on the timeline and
    refresh its card. Raises Conflict, rolling the declare back, if it was decided already."""
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"There is no alert #{alert_id}.")
    claimed = await alert_queries.decide(
        session, alert_id, DECLARED, incident_id=incident.id, decided_by=actor, decided_at=now
    )
    if not claimed:
        await session.refresh(alert)
        raise Conflict(taken(alert))
    link = f" <{alert.link}|open in {alert.source}>" if alert.link else ""
    timeline.add_event(
        session,
        incident,
        now,
        actor,
        "alert",
        f"declared from alert #{alert.id} ({alert.source}): {escape(alert.title)}{link}",
        {"alert": alert.id},
    )
    await session.refresh(alert)
    enqueue(session, alert, now)


class AlertCards:
    """Outbox executors for the cards; posting goes through the mirror (pacing, joining)."""

    def __init__(self, mirror: SlackMirror, incidents_channel: str, runbooks: RunbookSet) -> None:
        self.mirror = mirror
        self.db = mirror.db
        self.client = mirror.client
        self.channel = incidents_channel
        self.runbooks = runbooks

    def executors(self) -> dict[str, Executor]:
        return {REFRESH: self.refresh, NOTE: self.note}

    async def _alert(self, job: Job) -> Alert:
        async with self.db.session() as session:
            alert = await session.get(Alert, int(job.payload["alert"]))  # type: ignore[call-overload]
        if alert is None:
            raise PermanentError(f"alert {job.payload.get('alert')} is gone")
        return alert

    async def refresh(self, job: Job) -> None:
        alert = await self._alert(job)
        runbook = self.runbooks.get(alert.runbook_id or "")
        text, blocks = alerts_ui.card(alert, runbook.title if runbook else None)
        if alert.card_ts is None:
            response = await self.mirror.post_message(
                channel=self.channel, text=text, blocks=blocks
            )
            async with self.db.transaction() as session:
                stored = await session.get(Alert, alert.id)
                if stored is not None:
                    stored.card_ts = response["ts"]
                    session.add(stored)
            return
        if await self.mirror.newer_pending(job):
            raise Superseded
        await self.client.chat_update(
            channel=self.channel, ts=alert.card_ts, text=text, blocks=blocks
        )

    async def note(self, job: Job) -> None:
        """A reply under the card (e.g. "recovered"); the card is posted first, same lane."""
        alert = await self._alert(job)
        if alert.card_ts is None:
            raise PermanentError("the alert's card was never posted")
        text = str(job.payload["text"])
        await self.mirror.post_message(
            channel=self.channel, thread_ts=alert.card_ts, text=text, blocks=alerts_ui.note(text)
        )
