"""Writing to an incident's timeline and queueing the Slack writes that show it, inside the
caller's transaction. Shared by every service that changes an incident."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox
from bot.errors import NotFound, VersionConflict
from bot.severity import Severity
from storage import queries
from storage.models import Incident, TimelineEvent


async def load(session: AsyncSession, incident_id: int) -> Incident:
    """The incident, or NotFound with a message for the person who named it."""
    incident = await queries.incident(session, incident_id)
    if incident is None:
        raise NotFound(f"There is no incident INC-{incident_id}.")
    return incident


async def claim(session: AsyncSession, incident: Incident) -> None:
    """Compare-and-set the incident's version before changing it (see storage.queries);
    VersionConflict makes the operation start again from a fresh read."""
    if not await queries.claim_version(session, incident):
        raise VersionConflict(
            f"INC-{incident.id} was changed by someone else at the same moment; "
            "look at the channel and try again if still needed."
        )
    session.add(incident)


def lane(incident_id: int) -> str:
    """Slack writes of one incident are delivered in order, on their own lane."""
    return f"inc-{incident_id}"


def add_event(
    session: AsyncSession,
    incident: Incident,
    at: datetime,
    actor: str,
    kind: str,
    text: str,
    data: dict[str, object] | None = None,
) -> TimelineEvent:
    event = TimelineEvent(
        incident_id=incident.id,  # type: ignore[arg-type]
        at=at,
        actor=actor,
        kind=kind,
        text=text,
        data=json.dumps(data) if data else None,
    )
    session.add(event)
    return event


def enqueue(
    session: AsyncSession,
    incident: Incident,
    now: datetime,
    op: str,
    payload: dict[str, object] | None = None,
) -> None:
    outbox.enqueue(
        session,
        now=now,
        lane=lane(incident.id),  # type: ignore[arg-type]
        op=op,
        payload=payload,
        incident_id=incident.id,
    )


def has_channel(incident: Incident) -> bool:
    """Has, or is about to get, its own channel (P1/P2, and every private incident)."""
    return bool(incident.channel_id) or incident.private or Severity(incident.severity).has_channel


def has_channel_before(incident: Incident, old: Severity) -> bool:
    """Whether the incident had (or had queued) its channel before a change from `old`."""
    return bool(incident.channel_id) or incident.private or old.has_channel


def announce(session: AsyncSession, incident: Incident, now: datetime, line: str) -> None:
    """Tell the incident's channel (or its thread) and mirror the line in #incidents."""
    enqueue(session, incident, now, "post_event", {"text": line, "to": "incident"})
    if has_channel(incident):
        enqueue(session, incident, now, "post_event", {"text": line, "to": "thread"})


def line(event: TimelineEvent) -> str:
    return f"`{event.at:%H:%M}` <@{event.actor}> {event.text}"


def record(
    session: AsyncSession,
    incident: Incident,
    at: datetime,
    actor: str,
    kind: str,
    text: str,
    data: dict[str, object] | None = None,
) -> TimelineEvent:
    """A timeline row, told in the incident's channel and mirrored in #incidents."""
    event = add_event(session, incident, at, actor, kind, text, data)
    announce(session, incident, at, line(event))
    return event
