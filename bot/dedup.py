"""Slack redelivers events it thinks were missed; each event_id is handled once."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from storage.db import Database
from storage.models import ProcessedEvent


async def first_delivery(db: Database, clock: Clock, event_id: str | None) -> bool:
    if not event_id:
        return True
    try:
        async with db.transaction() as session:
            session.add(ProcessedEvent(event_id=event_id, received_at=clock.now()))
    except IntegrityError:
        return False
    return True
