"""The health watch: reads ${SERVICE_URL}/api/health (and the admin rate-limit status) every
HEALTH_WATCH_INTERVAL; a signal seen on two polls in a row raises an alert, and its going away
after that says "recovered" on the alert's card.

The clock scheduler starts it in a task of its own, so a hanging service delays no clock. Each
poll's slot is claimed by compare-and-set on its JobRun row, so across replicas one of them
polls; the streaks live in that row too, so a replica that takes over carries on where the last
one stopped."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.alert_sources import RULES, from_rule
from bot.alerts import AlertService
from bot.clock import Clock
from bot.step_executor import StepExecutor, pick
from storage.db import Database
from storage.models import JobRun

log = logging.getLogger(__name__)

NAME = "health_watch"
SOURCE = "health-watch"
POLLS_TO_ALERT = 2
HEALTH, RATE_LIMITS = "/api/health", "/api/admin/rate-limits"
# Which signals each endpoint speaks for: a failed read of one leaves the others' streaks alone.
HEALTH_KINDS = ("health_unhealthy", "disk_warning", "disk_critical")
RATE_KINDS = ("rate_limit",)


@dataclass
class WatchState:
    """Carried between polls (JSON in the JobRun row): streaks and the alerts raised."""

    streaks: dict[str, int] = field(default_factory=dict)
    alerted: dict[str, str] = field(default_factory=dict)  # kind -> dedup key

    @classmethod
    def load(cls, text: str | None) -> WatchState:
        data = json.loads(text) if text else {}
        return cls(dict(data.get("streaks", {})), dict(data.get("alerted", {})))

    def dump(self) -> str:
        return json.dumps({"streaks": self.streaks, "alerted": self.alerted})


@dataclass(frozen=True)
class Poll:
    """What one poll saw: the signals present (kind -> what to say), and which kinds it could
    judge at all (an endpoint that did not answer judges nothing)."""

    present: dict[str, str]
    judged: frozenset[str]


class HealthWatch:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        executor: StepExecutor,
        alerts: AlertService,
        *,
        service_url: str,
        admin_cookie: str | None,
        interval: timedelta,
    ) -> None:
        self.db = db
        self.clock = clock
        self.executor = executor
        self.alerts = alerts
        self.service_url = service_url
        self.admin_cookie = admin_cookie
        self.interval = interval

    async def run_if_due(self) -> bool:
        """Poll if this slot is ours; True if an alert was raised or recovered."""
        now = self.clock.now()
        if not await self._claim(now):
            return False
        poll = await self.poll()
        async with self.db.session() as session:
            row = await session.get(JobRun, NAME)
            state = WatchState.load(row.data if row else None)
        raised, recovered = advance(state, poll)
        for kind in raised:
            key = f"{SOURCE}:{kind}"
            signal = from_rule(SOURCE, kind, poll.present[kind], dedup_key=key)
            await self.alerts.receive(signal)
            state.alerted[kind] = key
        for kind in recovered:
            await self.alerts.recover(state.alerted.pop(kind))
        async with self.db.transaction() as session:
            await session.exec(
                update(JobRun)  # type: ignore[call-overload]
                .where(col(JobRun.name) == NAME)
                .values(data=state.dump())
            )
        return bool(raised or recovered)

    async def _claim(self, now: datetime) -> bool:
        try:
            async with self.db.transaction() as session:
                row = await session.get(JobRun, NAME)
                if row is None:
                    session.add(JobRun(name=NAME, last_run_at=now))
                    return True
                claimed = await session.exec(
                    update(JobRun)  # type: ignore[call-overload]
                    .where(col(JobRun.name) == NAME, col(JobRun.last_run_at) <= now - self.interval)
                    .values(last_run_at=now)
                )
                return claimed.rowcount == 1
        except IntegrityError:
            return False  # another replica created the row (and took the first poll)

    async def poll(self) -> Poll:
        present: dict[str, str] = {}
        judged: set[str] = set()
        status, data, failure = await self.executor.fetch_json(self.service_url + HEALTH)
        judged.update(HEALTH_KINDS)
        if failure is not None:
            present["health_unhealthy"] = f"Health check failed: {failure}"
            judged -= {"disk_warning", "disk_critical"}  # no answer says nothing about disk
        else:
            present.update(_health_signals(status, data))
        if self.admin_cookie:
            status, data, failure = await self.executor.fetch_json(
                self.service_url + RATE_LIMITS, {"Cookie": self.admin_cookie}
            )
            if failure is None and status == 200 and isinstance(data, dict):
                judged.update(RATE_KINDS)
                if data.get("alerting") is True:
                    ratio = data.get("blockedRatio")
                    shown = f" ({ratio:.0%} blocked)" if isinstance(ratio, int | float) else ""
                    present["rate_limit"] = f"Rate limits alerting{shown}"
            else:
                log.warning("health watch: rate-limit status unreadable (%s)", failure or status)
        return Poll(present, frozenset(judged))


def _health_signals(status: int | None, data: Any) -> dict[str, str]:
    present: dict[str, str] = {}
    health = pick(data, "status") if isinstance(data, dict) else None
    if (status or 0) >= 500 or health == "unhealthy" or not isinstance(data, dict):
        database = pick(data, "database.status") if isinstance(data, dict) else None
        extra = f", database {database}" if database else ""
        present["health_unhealthy"] = (
            f"Health check unhealthy: HTTP {status}, status {health or 'unknown'}{extra}"
        )
    disk = pick(data, "database.diskStatus") if isinstance(data, dict) else None
    if disk in ("warning", "critical"):
        # Critical is also past the warning mark: the warning must not "recover" on the way up.
        present["disk_warning"] = f"Database disk {disk}: {RULES['disk_warning'].what}"
        if disk == "critical":
            present["disk_critical"] = f"Database disk critical: {RULES['disk_critical'].what}"
    return present


def advance(state: WatchState, poll: Poll) -> tuple[list[str], list[str]]:
    """Move the streaks on by one poll: (kinds to raise an alert for, kinds recovered)."""
    raised, recovered = [], []
    for kind in sorted(poll.judged):
        if kind in poll.present:
            state.streaks[kind] = state.streaks.get(kind, 0) + 1
            if state.streaks[kind] >= POLLS_TO_ALERT and kind not in state.alerted:
                raised.append(kind)
        else:
            state.streaks.pop(kind, None)
            if kind in state.alerted:
                recovered.append(kind)
    return raised, recovered
