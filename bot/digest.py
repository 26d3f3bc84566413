"""The daily digest in #incidents: open incidents, those resolved in the last 24 hours, and
postmortems overdue. Posted once a day at DIGEST_AT (UTC); nothing when there is nothing to
say. The day's slot is claimed by compare-and-set, so it goes out once across replicas and
restarts (a digest missed while the bot was down goes out when it is back)."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, time, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot import outbox
from bot.clock import Clock
from bot.documents import Documents
from storage import coordination, queries
from storage.db import Database
from storage.models import JobRun

log = logging.getLogger(__name__)
NAME = "daily_digest"


def latest_slot(now: datetime, at: time) -> datetime:
    """The most recent DIGEST_AT moment not after `now`."""
    today = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return today if today <= now else today - timedelta(days=1)


class Digest:
    def __init__(
        self, db: Database, clock: Clock, documents: Documents, at: time, postmortem_due: timedelta
    ) -> None:
        self.db = db
        self.clock = clock
        self.documents = documents
        self.at = at
        self.postmortem_due = postmortem_due

    async def start(self) -> None:
        """First start on this database: begin with the next slot, not a surprise digest now."""
        slot = latest_slot(self.clock.now(), self.at)
        with contextlib.suppress(IntegrityError):  # another replica got there first
            async with self.db.transaction() as session:
                if await session.get(JobRun, NAME) is None:
                    session.add(JobRun(name=NAME, last_run_at=slot))

    async def run_if_due(self) -> bool:
        """Post the digest if its slot has come and nobody posted it yet; True if posted."""
        now = self.clock.now()
        slot = latest_slot(now, self.at)
        async with self.db.transaction() as session:
            # Claimed by one replica only (storage/coordination.py), in the transaction that
            # queues the digest: a failure gives the slot back.
            claimed = await coordination.claim(
                session,
                JobRun.name,
                col(JobRun.name) == NAME,
                col(JobRun.last_run_at) < slot,
                values={"last_run_at": slot},
            )
            if claimed is None:
                return False
            open_now = await queries.open_incidents(session)
            resolved = await queries.resolved_since(session, now - timedelta(hours=24))
            overdue = await queries.postmortems_overdue(session, now - self.postmortem_due)
            if not (open_now or resolved or overdue):
                log.info("daily digest: nothing to say")
                return False
            text = self.documents.digest(now, open_now, resolved, overdue)
            outbox.enqueue(
                session, now=now, lane="digest", op="post_digest", payload={"text": text}
            )
        log.info("daily digest queued for %s", slot.date())
        return True
