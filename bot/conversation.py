"""Messages people type in an incident's channel (or its #incidents thread) as timeline rows:
recorded once, edits keep the earlier text, deletions are flagged, :pushpin: marks key ones.

Slack redelivers events it thinks were missed. The event_id is stored in the same transaction
as the change it caused, so a redelivery is recognised, and a failure leaves nothing behind
that would make Slack's retry look like a duplicate.

Every change goes through one writer task, in the order the events arrived: an edit can never
be overtaken by its own message, and new messages that arrived while the writer was busy are
stored together, in one transaction with one lookup of their incidents and one INSERT, instead
of a transaction each (a busy incident channel sends hundreds a second). The queue is bounded:
when it is full, the delivery (already acknowledged to Slack) waits for room in its own task;
nothing is dropped. `close` stores what is queued before the database closes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
# Queued changes at most; more deliveries wait (already acknowledged) for room.
QUEUE_SIZE = 2000
# New messages stored in one transaction at most.
MAX_BATCH = 500
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewMessage:
    event_id: str | None
    channel: str
    ts: str
    user: str
    text: str
    thread_ts: str | None


# A queued change: a new message, or any other change as a function to run in order.
Change = NewMessage | Callable[[], Awaitable[object]]


class ConversationLog:
    def __init__(self, db: Database, clock: Clock, incidents_channel: str) -> None:
        self.db = db
        self.clock = clock
        self.incidents_channel = incidents_channel
        self._queue: asyncio.Queue[Change] = asyncio.Queue(QUEUE_SIZE)
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name="conversation-writer")

    async def close(self, grace: float = 10.0) -> None:
        """Store what is queued (within `grace` seconds), then stop the writer."""
        if self._writer is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), grace)
        except TimeoutError:
            log.warning("stopping with %d timeline change(s) not stored", self._queue.qsize())
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)
        self._writer = None

    async def _write(self) -> None:
        while True:
            changes = [await self._queue.get()]
            while len(changes) < MAX_BATCH and not self._queue.empty():
                changes.append(self._queue.get_nowait())
            try:
                await self._apply(changes)
            finally:
                for _ in changes:
                    self._queue.task_done()

    async def _apply(self, changes: list[Change]) -> None:
        """Runs of new messages go in one transaction each; other changes one by one, in
        arrival order. A failure is logged and does not stop the writer."""
        run: list[NewMessage] = []
        for change in [*changes, None]:
            if isinstance(change, NewMessage):
                run.append(change)
                continue
            if run:
                await self._guard(self._store_messages(run))
                run = []
            if change is not None:
                await self._guard(change())

    @staticmethod
    async def _guard(work: Awaitable[object]) -> None:
        try:
            await work
        except Exception:
            log.exception("could not store a timeline change")

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

    async def record(self, message: NewMessage) -> None:
        """Queue a new message (stored by the writer, with the others that came meanwhile)."""
        await self._queue.put(message)

    async def edit(
        self,
        event_id: str | None,
        channel: str,
        ts: str,
        text: str,
        user: str | None = None,
        thread_ts: str | None = None,
    ) -> None:
        await self._queue.put(lambda: self._edit(event_id, channel, ts, text, user, thread_ts))

    async def delete(self, event_id: str | None, channel: str, ts: str) -> None:
        await self._queue.put(lambda: self._delete(event_id, channel, ts))

    async def mark_key(self, event_id: str | None, channel: str, ts: str, key: bool) -> None:
        await self._queue.put(lambda: self._mark_key(event_id, channel, ts, key))

    async def _store_messages(self, messages: list[NewMessage]) -> None:
        try:
            async with self.db.transaction() as session:
                await self._insert_new(session, messages)
            return
        except IntegrityError:
            pass  # another writer (a second replica) stored one of them at the same moment
        except Exception:
            if len(messages) == 1:
                raise
            # One message the database refuses must not take the others (acknowledged to
            # Slack, so never sent again) down with it.
            log.warning("a batch of %d messages failed; storing them one by one", len(messages))
        # One by one, so only the message at fault is skipped.
        for message in messages:
            await self._guard(
                self._once(message.event_id, lambda s, m=message: self._add_one(s, m))
            )

    async def _insert_new(self, session: AsyncSession, messages: list[NewMessage]) -> None:
        """Store the messages that belong to an incident and are neither stored already nor a
        redelivery, with their event_ids, in four statements whatever their number."""
        done = await queries.processed_event_ids(
            session, {m.event_id for m in messages if m.event_id}
        )
        channels, roots = await queries.incident_ids_for_places(
            session,
            {m.channel for m in messages if m.channel != self.incidents_channel},
            {m.thread_ts for m in messages if m.channel == self.incidents_channel and m.thread_ts},
        )
        stored = await queries.message_keys(
            session, {m.channel for m in messages}, {m.ts for m in messages}
        )
        now = self.clock.now()
        rows: list[dict[str, object]] = []
        processed: list[dict[str, object]] = []
        for m in messages:
            incident_id = self._incident_id(m, channels, roots)
            if m.event_id in done or incident_id is None or (m.channel, m.ts) in stored:
                continue
            stored.add((m.channel, m.ts))
            rows.append(
                {
                    "incident_id": incident_id,
                    "at": self._sent_at(m.ts),
                    "actor": m.user,
                    "kind": "message",
                    "text": m.text[:MAX_TEXT],
                    "slack_channel": m.channel,
                    "slack_ts": m.ts,
                    "key": False,
                    "deleted": False,
                }
            )
            if m.event_id:
                done.add(m.event_id)
                processed.append({"event_id": m.event_id, "received_at": now})
        await queries.insert_messages(session, rows, processed)

    def _incident_id(
        self, message: NewMessage, channels: dict[str, int], roots: dict[str, int]
    ) -> int | None:
        if message.channel != self.incidents_channel:
            return channels.get(message.channel)
        return roots.get(message.thread_ts) if message.thread_ts else None

    async def _add_one(self, session: AsyncSession, message: NewMessage) -> TimelineEvent | None:
        incident = await queries.incident_for_place(
            session, message.channel, message.thread_ts, self.incidents_channel
        )
        if incident is None or await queries.message_event(session, message.channel, message.ts):
            return None
        event = timeline.add_event(
            session,
            incident,
            self._sent_at(message.ts),
            message.user,
            "message",
            message.text[:MAX_TEXT],
        )
        event.slack_channel, event.slack_ts = message.channel, message.ts
        return event

    async def _edit(
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

    async def _delete(self, event_id: str | None, channel: str, ts: str) -> bool:
        async def change(session: AsyncSession) -> bool | None:
            event = await queries.message_event(session, channel, ts)
            if event is None or event.deleted:
                return None
            event.deleted = True
            session.add(event)
            return True

        return bool(await self._once(event_id, change))

    async def _mark_key(self, event_id: str | None, channel: str, ts: str, key: bool) -> bool:
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
