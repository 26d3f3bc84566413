"""Insights over a period: incidents by severity, MTTA and MTTR (median and p90), postmortems
on time or late, the runbooks and actions used most, and the same for the period before.

Pure computation over stored rows; the caller reads them (storage.queries) and renders the
result (bot/ui/insights.py, bot/chart.py).

Definitions:
- MTTA: declared → first acknowledgement; MTTR: declared → resolved. Incidents count in the
  period they were declared in.
- median: the middle value, or the mean of the two middle values for an even count.
- p90: nearest rank — sort the n values and take the ⌈0.9·n⌉-th (1-based), so it is always one
  of the measured values.
- a postmortem (P1/P2) is on time when marked shared by `POSTMORTEM_DUE` after resolve, late
  when shared after that or still not shared once it is due, pending otherwise."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from bot.severity import Severity
from storage.models import Incident, StepRun

PERIODS: dict[str, timedelta] = {
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
}
DEFAULT_PERIOD = "30d"
TOP = 5
T = TypeVar("T")
# Runs that actually called something (not approvals still waiting, denied ones or ticks).
RAN_STATES = frozenset({"succeeded", "failed", "unknown"})


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


@dataclass(frozen=True)
class Spread:
    """Durations in seconds."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(len(values), median(values), p90(values))


@dataclass(frozen=True)
class SeverityStats:
    severity: Severity
    count: int
    mtta: Spread
    mttr: Spread


@dataclass(frozen=True)
class Postmortems:
    on_time: int
    late: int
    pending: int


@dataclass(frozen=True)
class PeriodStats:
    start: datetime
    end: datetime
    count: int
    by_severity: dict[Severity, SeverityStats]
    mtta: Spread
    mttr: Spread
    postmortems: Postmortems
    # (runbook id, incidents) and ((runbook id, step id), runs), most first.
    runbooks: list[tuple[str, int]]
    actions: list[tuple[tuple[str, str], int]]


@dataclass(frozen=True)
class Week:
    start: datetime
    counts: dict[Severity, int]
    mttr_median: float | None  # seconds, of the week's resolved incidents


@dataclass(frozen=True)
class Insights:
    period: str
    current: PeriodStats
    previous: PeriodStats
    weeks: list[Week]


def _tta(incident: Incident) -> float | None:
    if incident.acknowledged_at is None:
        return None
    return max(0.0, (incident.acknowledged_at - incident.declared_at).total_seconds())


def _ttr(incident: Incident) -> float | None:
    if incident.resolved_at is None or incident.status != "resolved":
        return None
    return max(0.0, (incident.resolved_at - incident.declared_at).total_seconds())


def _values(
    incidents: Iterable[Incident], measure: Callable[[Incident], float | None]
) -> list[float]:
    found = (measure(i) for i in incidents)
    return [v for v in found if v is not None]


def _postmortems(incidents: Iterable[Incident], now: datetime, due_after: timedelta) -> Postmortems:
    on_time = late = pending = 0
    for incident in incidents:
        if not Severity(incident.severity).has_channel or _ttr(incident) is None:
            continue
        assert incident.resolved_at is not None
        due = incident.resolved_at + due_after
        done = incident.postmortem_done_at
        if done is not None and done <= due:
            on_time += 1
        elif done is not None or now > due:
            late += 1
        else:
            pending += 1
    return Postmortems(on_time, late, pending)


def period_stats(
    incidents: Sequence[Incident],
    runs: Sequence[StepRun],
    start: datetime,
    end: datetime,
    now: datetime,
    postmortem_due: timedelta,
) -> PeriodStats:
    """Stats of the incidents declared in [start, end) and the runbook actions run on them."""
    inside = [i for i in incidents if start <= i.declared_at < end]
    by_severity = {}
    for severity in Severity:
        mine = [i for i in inside if i.severity == severity.value]
        by_severity[severity] = SeverityStats(
            severity,
            len(mine),
            Spread.of(_values(mine, _tta)),
            Spread.of(_values(mine, _ttr)),
        )
    # A private incident counts (#incidents shows its number and severity) but its runbook
    # and actions stay inside it: "data-breach (1)" would tell everyone what happened.
    public = {i.id for i in inside if not i.private}
    runbooks = Counter(i.runbook_id for i in inside if i.runbook_id and i.id in public)
    actions = Counter(
        (r.runbook_id, r.step_id)
        for r in runs
        if r.incident_id in public and r.state in RAN_STATES and r.kind in ("http", "statuspage")
    )
    return PeriodStats(
        start=start,
        end=end,
        count=len(inside),
        by_severity=by_severity,
        mtta=Spread.of(_values(inside, _tta)),
        mttr=Spread.of(_values(inside, _ttr)),
        postmortems=_postmortems(inside, now, postmortem_due),
        runbooks=_most(runbooks),
        actions=_most(actions),
    )


def _most(counter: Counter[T]) -> list[tuple[T, int]]:
    # Ties in a stable order: most first, then by name.
    return sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))[:TOP]


def week_start(at: datetime) -> datetime:
    """Monday 00:00 UTC of the week `at` falls in."""
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def weekly(incidents: Sequence[Incident], start: datetime, end: datetime) -> list[Week]:
    """Per week (Monday to Monday, UTC) from the week of `start` to the week of `end`:
    incidents declared by severity, and the median time to resolve of those resolved."""
    weeks: list[Week] = []
    cursor = week_start(start)
    while cursor < end:
        following = cursor + timedelta(days=7)
        mine = [i for i in incidents if max(cursor, start) <= i.declared_at < min(following, end)]
        counts = {s: sum(1 for i in mine if i.severity == s.value) for s in Severity}
        weeks.append(Week(cursor, counts, median(_values(mine, _ttr))))
        cursor = following
    return weeks


def compute(
    incidents: Sequence[Incident],
    runs: Sequence[StepRun],
    *,
    period: str,
    now: datetime,
    postmortem_due: timedelta,
) -> Insights:
    """`incidents` must hold at least those declared in the last two periods."""
    length = PERIODS[period]
    start, before = now - length, now - 2 * length
    return Insights(
        period=period,
        current=period_stats(incidents, runs, start, now, now, postmortem_due),
        previous=period_stats(incidents, runs, before, start, now, postmortem_due),
        weeks=weekly(incidents, start, now),
    )
