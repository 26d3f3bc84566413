"""Messages people type in an incident's channel (or its #incidents thread) as timeline rows:
recorded once, edits keep the earlier text, deletions are flagged, :pushpin: marks key ones.

Slack redelivers events it thinks were missed. The event_id is stored in the same transaction
as the change it caused, so a redelivery is recognised, and a failure leaves nothing behind
that would make Slack's retry look like a duplicate."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import timeline
from bot.clock import Clock
from storage import queries
from storage.db import Database
from storage.models import ProcessedEvent, TimelineEvent

MAX_TEXT = 40000
T = TypeVar("T")


class ConversationLog:
    def __init__(self, db: Database, clock: Clock, incidents_channel: str) -> None:
        self.db = db
        self.clock = clock
        self.incidents_channel = incidents_channel

    async def _once(
        self, event_id: str | None, change: Callable[[AsyncSession], Awaitable[T | None]]
    ) -> T | None:
        """Run `change` in a transaction that also records event_id; None for a redelivery."""
        try:
            async with self.db.transaction() as session:
                if event_id and await session.get(ProcessedEvent, event_id) is not None:
                    return None
                result = await change(session)
                if result is not None and event_id:
                    session.add(ProcessedEvent(event_id=event_id, received_at=self.clock.now()))
                return result
        except IntegrityError:
            return None  # the same delivery, processed at the same moment by another task

    async def record(
        self,
        event_id: str | None,
        channel: str,
        ts: str,
        user: str,
        text: str,
        thread_ts: str | None,
    ) -> TimelineEvent | None:
        async def change(session: AsyncSession) -> TimelineEvent | None:
            incident = await queries.incident_for_place(
                session, channel, thread_ts, self.incidents_channel
            )
            if incident is None or await queries.message_event(session, channel, ts):
                return None
            event = timeline.add_event(
                session, incident, self._sent_at(ts), user, "message", text[:MAX_TEXT]
            )
            event.slack_channel, event.slack_ts = channel, ts
            return event

        return await self._once(event_id, change)

    async def edit(
        self,
        event_id: str | None,
        channel: str,
        ts: str,
        text: str,
        user: str | None = None,
        thread_ts: str | None = None,
    ) -> bool:
        async def change(session: AsyncSession) -> bool | None:
            event = await queries.message_event(session, channel, ts)
            if event is None and user:
                # The edit overtook the message itself (events are handled concurrently):
                # record the message now, with its edited text.
                incident = await queries.incident_for_place(
                    session, channel, thread_ts, self.incidents_channel
                )
                if incident is None:
                    return None
                added = timeline.add_event(
                    session, incident, self._sent_at(ts), user, "message", text[:MAX_TEXT]
                )
                added.slack_channel, added.slack_ts = channel, ts
                return True
            if event is None or event.text == text:
                return None
            history = json.loads(event.history) if event.history else []
            history.append(event.text)
            event.history, event.text = json.dumps(history), text[:MAX_TEXT]
            session.add(event)
            return True

        return bool(await self._once(event_id, change))

    async def delete(self, event_id: str | None, channel: str, ts: str) -> bool:
        async def change(session: AsyncSession) -> bool | None:
            event = await queries.message_event(session, channel, ts)
            if event is None or event.deleted:
                return None
            event.deleted = True
            session.add(event)
            return True

        return bool(await self._once(event_id, change))

    async def mark_key(self, event_id: str | None, channel: str, ts: str, key: bool) -> bool:
        async def change(session: AsyncSession) -> bool | None:
            event = await queries.message_event(session, channel, ts)
            if event is None or event.key == key:
                return None
            event.key = key
            session.add(event)
            return True

        return bool(await self._once(event_id, change))

    def _sent_at(self, ts: str) -> datetime:
        """When the message was sent: its Slack ts, unless that is implausible."""
        now = self.clock.now()
        try:
            sent = datetime.fromtimestamp(float(ts), UTC)
        except (TypeError, ValueError, OverflowError):
            return now
        return sent if abs(now - sent) <= timedelta(days=1) else now
