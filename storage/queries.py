"""Queries the domain needs, kept out of the services so they read as steps."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, false, func, insert, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.clock_time import clock_time
from storage.models import (
    LIVE_STATES,
    HomeViewer,
    Incident,
    OutboxMessage,
    ProcessedEvent,
    StepRun,
    TimelineEvent,
)

RESOLVED = "resolved"


async def incident(session: AsyncSession, incident_id: int) -> Incident | None:
    return await session.get(Incident, incident_id)


async def incident_for_place(
    session: AsyncSession, channel_id: str, thread_ts: str | None, incidents_channel: str
) -> Incident | None:
    """The incident a channel (or a thread in #incidents) belongs to."""
    if channel_id == incidents_channel:
        if not thread_ts:
            return None
        stmt = select(Incident).where(Incident.root_ts == thread_ts)
    else:
        stmt = select(Incident).where(Incident.channel_id == channel_id)
    return (await session.exec(stmt.order_by(col(Incident.id).desc()))).first()


async def incident_ids_for_places(
    session: AsyncSession, channels: set[str], roots: set[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """incident_for_place for many places at once, as ids: {channel: id}, {root ts: id}."""
    found: list[dict[str, int]] = []
    for column, keys in ((Incident.channel_id, channels), (Incident.root_ts, roots)):
        ids: dict[str, int] = {}
        if keys:
            stmt = select(column, Incident.id).where(col(column).in_(keys))
            # Newest last, so the newest incident of a place wins, as in incident_for_place.
            for key, incident_id in await session.exec(stmt.order_by(col(Incident.id))):
                ids[key] = incident_id  # type: ignore[index]
        found.append(ids)
    return found[0], found[1]


async def processed_event_ids(session: AsyncSession, event_ids: set[str]) -> set[str]:
    if not event_ids:
        return set()
    stmt = select(ProcessedEvent.event_id).where(col(ProcessedEvent.event_id).in_(event_ids))
    return set((await session.exec(stmt)).all())


async def message_keys(
    session: AsyncSession, channels: set[str], tss: set[str]
) -> set[tuple[str, str]]:
    """(channel, ts) of the stored messages among these channels and timestamps."""
    stmt = select(TimelineEvent.slack_channel, TimelineEvent.slack_ts).where(
        col(TimelineEvent.slack_channel).in_(channels), col(TimelineEvent.slack_ts).in_(tss)
    )
    return set((await session.exec(stmt)).all())  # type: ignore[arg-type]


async def insert_messages(
    session: AsyncSession, events: list[dict[str, object]], processed: list[dict[str, object]]
) -> None:
    """Timeline rows and processed event_ids as two multi-row INSERTs, no ORM objects."""
    if events:
        await session.exec(insert(TimelineEvent), params=events)  # type: ignore[call-overload]
    if processed:
        await session.exec(insert(ProcessedEvent), params=processed)  # type: ignore[call-overload]


async def open_incidents(session: AsyncSession) -> Sequence[Incident]:
    stmt = (
        select(Incident)
        .where(Incident.status != RESOLVED)
        .order_by(col(Incident.severity), col(Incident.id))
    )
    return (await session.exec(stmt)).all()


async def open_public_titles(
    session: AsyncSession, words: Collection[str]
) -> Sequence[tuple[int, str]]:
    """Open public incidents whose title contains one of `words` (lower-case letters and
    digits), as (id, title), oldest first. The database rules out the many that share no word,
    so a declare reads a few titles, not every open one. A superset: "db" also finds
    "mongodb"; the caller compares the words themselves. (SQLite's lower() folds ASCII only:
    a title could be missed only through the two letters Python lowers to ASCII, the Kelvin
    sign and dotted capital I.)"""
    if not words:
        return []
    title = func.lower(Incident.title)
    stmt = (
        select(Incident.id, Incident.title)
        .where(
            Incident.status != RESOLVED,
            col(Incident.private).is_(False),
            or_(*(title.contains(word, autoescape=True) for word in sorted(words))),
        )
        .order_by(col(Incident.id))
    )
    return (await session.exec(stmt)).all()  # type: ignore[return-value]


# What readers of a timeline use: plain rows, not ORM objects (a long incident has tens of
# thousands of events, and building an object for each is most of the cost of reading them).
_EVENT_COLUMNS = (
    TimelineEvent.id,
    TimelineEvent.incident_id,
    TimelineEvent.at,
    TimelineEvent.actor,
    TimelineEvent.kind,
    TimelineEvent.text,
    TimelineEvent.key,
    TimelineEvent.deleted,
    TimelineEvent.data,
)


async def timeline(
    session: AsyncSession, incident_id: int, *, offset: int = 0, limit: int | None = None
) -> Sequence[TimelineEvent]:
    """The incident's events in time order, as read-only rows with the events' attributes."""
    stmt = (
        select(*_EVENT_COLUMNS)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return (await session.exec(stmt)).all()  # type: ignore[return-value]


class DocumentEvent(NamedTuple):
    """A timeline event as a document lists it (deleted ones are left out): its UTC time of
    day already "HH:MM", the rest as stored."""

    time: str
    actor: str
    kind: str
    text: str
    key: bool
    data: str | None


async def document_timeline(session: AsyncSession, incident_id: int) -> Sequence[DocumentEvent]:
    """The incident's events that a document shows, in time order: rows of DocumentEvent's
    columns (read by position, so a 50,000-row timeline builds no objects and no datetimes)."""
    stmt = (
        select(
            clock_time(TimelineEvent.at).label("time"),
            TimelineEvent.actor,
            TimelineEvent.kind,
            TimelineEvent.text,
            TimelineEvent.key,
            TimelineEvent.data,
        )
        .where(TimelineEvent.incident_id == incident_id, col(TimelineEvent.deleted) == false())
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    )
    return (await session.exec(stmt)).all()  # type: ignore[return-value]


async def timeline_count(session: AsyncSession, incident_id: int) -> int:
    stmt = select(func.count()).where(TimelineEvent.incident_id == incident_id)
    return (await session.exec(stmt)).one()


async def message_event(session: AsyncSession, channel: str, ts: str) -> TimelineEvent | None:
    stmt = select(TimelineEvent).where(
        TimelineEvent.slack_channel == channel, TimelineEvent.slack_ts == ts
    )
    return (await session.exec(stmt)).first()


async def events_of_kind(
    session: AsyncSession, incident_id: int, kind: str
) -> Sequence[TimelineEvent]:
    stmt = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == kind)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    )
    return (await session.exec(stmt)).all()


async def latest_runs(session: AsyncSession, incident_id: int) -> dict[str, StepRun]:
    """The newest run of each step of an incident's runbook."""
    stmt = select(StepRun).where(StepRun.incident_id == incident_id).order_by(col(StepRun.id))
    latest: dict[str, StepRun] = {}
    for run in (await session.exec(stmt)).all():
        latest[run.step_id] = run
    return latest


async def live_run(session: AsyncSession, incident_id: int, step_id: str) -> StepRun | None:
    stmt = select(StepRun).where(
        StepRun.incident_id == incident_id,
        StepRun.step_id == step_id,
        col(StepRun.state).in_(LIVE_STATES),
    )
    return (await session.exec(stmt)).first()


async def runs_in_state(
    session: AsyncSession, state: str, *where: ColumnElement[bool]
) -> Sequence[StepRun]:
    stmt = select(StepRun).where(StepRun.state == state, *where).order_by(col(StepRun.id))
    return (await session.exec(stmt)).all()


async def claim_version(session: AsyncSession, incident: Incident) -> bool:
    """Compare-and-set on the incident's version: True if nobody changed it since it was read.

    Of two concurrent changes (a double submit, two people at once) exactly one wins; the
    loser's transaction sees 0 rows and must not go on."""
    result = await session.exec(
        update(Incident)  # type: ignore[call-overload]
        .where(col(Incident.id) == incident.id, col(Incident.version) == incident.version)
        .values(version=incident.version + 1)
    )
    if result.rowcount != 1:
        return False
    incident.version += 1  # the ORM's own flush then writes the same value
    return True


async def runs_for_incident(session: AsyncSession, incident_id: int) -> Sequence[StepRun]:
    stmt = select(StepRun).where(StepRun.incident_id == incident_id).order_by(col(StepRun.id))
    return (await session.exec(stmt)).all()


async def resolved_since(session: AsyncSession, since: datetime) -> Sequence[Incident]:
    stmt = (
        select(Incident)
        .where(Incident.status == RESOLVED, col(Incident.resolved_at) >= since)
        .order_by(col(Incident.resolved_at))
    )
    return (await session.exec(stmt)).all()


async def postmortems_overdue(
    session: AsyncSession, resolved_before: datetime
) -> Sequence[Incident]:
    return await postmortems_open(session, resolved_before=resolved_before)


async def postmortems_open(
    session: AsyncSession, *, resolved_before: datetime | None = None, commander: str | None = None
) -> Sequence[Incident]:
    """Resolved P1/P2 incidents whose postmortem is not marked shared yet."""
    stmt = select(Incident).where(
        Incident.status == RESOLVED,
        col(Incident.severity).in_(["P1", "P2"]),
        col(Incident.postmortem_done_at).is_(None),
    )
    if resolved_before is not None:
        stmt = stmt.where(col(Incident.resolved_at) < resolved_before)
    if commander is not None:
        stmt = stmt.where(Incident.commander_id == commander)
    return (await session.exec(stmt.order_by(col(Incident.resolved_at)))).all()


# ---- App Home and insights -------------------------------------------------------------------


async def remember_home_viewer(session: AsyncSession, user_id: str, at: datetime) -> None:
    viewer = await session.get(HomeViewer, user_id)
    if viewer is None:
        session.add(HomeViewer(user_id=user_id, opened_at=at))
    else:
        viewer.opened_at = at
        session.add(viewer)


async def home_viewers(session: AsyncSession, since: datetime) -> Sequence[str]:
    stmt = (
        select(HomeViewer.user_id)
        .where(col(HomeViewer.opened_at) >= since)
        .order_by(col(HomeViewer.user_id))
    )
    return (await session.exec(stmt)).all()


async def awaiting_approval(session: AsyncSession) -> Sequence[StepRun]:
    stmt = select(StepRun).where(StepRun.state == "awaiting_approval").order_by(col(StepRun.id))
    return (await session.exec(stmt)).all()


async def paged_users(session: AsyncSession, incident_ids: Sequence[int]) -> dict[int, set[str]]:
    """Who was paged for each incident (the page jobs of its outbox lane)."""
    if not incident_ids:
        return {}
    stmt = select(OutboxMessage.incident_id, OutboxMessage.payload).where(
        OutboxMessage.op == "page_dm", col(OutboxMessage.incident_id).in_(list(incident_ids))
    )
    paged: dict[int, set[str]] = {}
    for incident_id, payload in (await session.exec(stmt)).all():
        user = json.loads(payload).get("user")
        if incident_id is not None and isinstance(user, str):
            paged.setdefault(incident_id, set()).add(user)
    return paged


async def declared_between(
    session: AsyncSession, start: datetime, end: datetime | None = None
) -> Sequence[Incident]:
    """Incidents declared in [start, end) (from start on when end is None)."""
    stmt = select(Incident).where(col(Incident.declared_at) >= start)
    if end is not None:
        stmt = stmt.where(col(Incident.declared_at) < end)
    order = (col(Incident.declared_at), col(Incident.id))
    return (await session.exec(stmt.order_by(*order))).all()


async def runs_of_incidents(
    session: AsyncSession, incident_ids: Sequence[int]
) -> Sequence[StepRun]:
    if not incident_ids:
        return []
    stmt = (
        select(StepRun)
        .where(col(StepRun.incident_id).in_(list(incident_ids)))
        .order_by(col(StepRun.id))
    )
    return (await session.exec(stmt)).all()


async def pending_lanes(session: AsyncSession, lanes: Sequence[str]) -> set[str]:
    """Which of these outbox lanes have a job still waiting."""
    if not lanes:
        return set()
    stmt = (
        select(OutboxMessage.lane)
        .where(col(OutboxMessage.lane).in_(list(lanes)), OutboxMessage.state == "pending")
        .distinct()
    )
    return set((await session.exec(stmt)).all())


async def last_outbox_id(session: AsyncSession) -> int:
    return (await session.exec(select(func.max(OutboxMessage.id)))).one() or 0


async def incidents_queued_between(session: AsyncSession, after: int, upto: int) -> list[int]:
    """Incidents with Slack writes queued in (after, upto]: the ones that changed."""
    stmt = (
        select(OutboxMessage.incident_id)
        .where(
            col(OutboxMessage.id) > after,
            col(OutboxMessage.id) <= upto,
            col(OutboxMessage.incident_id).is_not(None),
        )
        .distinct()
    )
    return [i for i in (await session.exec(stmt)).all() if i is not None]
