"""This process among the replicas sharing the database.

Each replica has an id, checks in every third of REPLICA_TIMEOUT, and marks the work it has
in flight (a Slack write being sent, a runbook action being run) with that id. A replica that
has not checked in for REPLICA_TIMEOUT is dead: the living take over its work (the write is
queued again; the action is reported "outcome unknown", never re-run). Work owned by a live
replica is left alone, so a start-up beside a running replica disturbs nothing. A clean stop
removes the replica's row, so its leftovers are taken over at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.clock import Clock
from storage import coordination
from storage.db import Database

log = logging.getLogger(__name__)

# Takes over the work of replicas not seen since the given moment (coordination.orphaned).
Reclaimer = Callable[[datetime], Awaitable[int]]


def new_replica_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Presence:
    def __init__(self, db: Database, clock: Clock, timeout: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.timeout = timeout
        self.id = new_replica_id()
        self._reclaimers: list[Reclaimer] = []
        self._task: asyncio.Task[None] | None = None

    def on_takeover(self, reclaimer: Reclaimer) -> None:
        self._reclaimers.append(reclaimer)

    async def start(self) -> None:
        await self.check_in()
        self._task = asyncio.create_task(self._run(), name="replica-presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            async with self.db.transaction() as session:
                await coordination.forget_replicas(session, [self.id])
        except Exception:  # noqa: BLE001 - stopping goes on; the others wait out the timeout
            log.warning("could not sign off; other replicas take over after REPLICA_TIMEOUT")

    async def check_in(self) -> int:
        """Heartbeat, then take over the work of dead replicas; how many pieces were taken."""
        now = self.clock.now()
        since = now - self.timeout
        async with self.db.transaction() as session:
            # Written at `now`, so this replica is among the living whatever the clock did.
            await coordination.heartbeat(session, self.id, now)
        taken = 0
        for reclaim in self._reclaimers:
            taken += await reclaim(since)
        async with self.db.transaction() as session:
            dead = await coordination.dead_replicas(session, since)
            dead.discard(self.id)
            if dead:
                log.warning("replicas %s stopped checking in; their work was taken over", dead)
                await coordination.forget_replicas(session, dead)
        return taken

    async def _run(self) -> None:
        interval = max(self.timeout.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check_in()
            except Exception:
                log.exception("replica check-in failed; will try again")
