"""Insights on a fixed set of incidents whose answers are worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.insights import Postmortems, Spread, compute, median, p90, week_start
from bot.severity import Severity
from storage.models import Incident, StepRun

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
DUE = timedelta(hours=24)
MIN = 60.0
_ids = iter(range(1, 1000))


def make(
    severity: str,
    declared: datetime,
    *,
    ack: float | None = None,
    resolve: float | None = None,
    shared_after: float | None = None,
    runbook: str | None = None,
) -> Incident:
    """ack/resolve in minutes after declare; shared_after in hours after resolve."""
    resolved = declared + timedelta(minutes=resolve) if resolve is not None else None
    return Incident(
        id=next(_ids),
        title="t",
        severity=severity,
        status="resolved" if resolved else "investigating",
        commander_id="U1",
        declared_by="U1",
        declared_at=declared,
        acknowledged_at=declared + timedelta(minutes=ack) if ack is not None else None,
        resolved_at=resolved,
        postmortem_done_at=(
            resolved + timedelta(hours=shared_after) if resolved and shared_after else None
        ),
        runbook_id=runbook,
    )


def march(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


# P1: eleven, declared 2..12 March, resolved after 10, 20, … 110 min; four acknowledged after
# 1..4 min; postmortems: three shared on time, two late, six never (all due long ago).
P1 = [
    make(
        "P1",
        march(2 + i),
        ack=i + 1 if i < 4 else None,
        resolve=10 * (i + 1),
        shared_after=10 if i < 3 else 30 if i < 5 else None,
        runbook="site-down" if i < 6 else "database-disk" if i < 9 else None,
    )
    for i in range(11)
]
P2 = [
    make("P2", march(20), resolve=30, shared_after=5, runbook="payment-failures"),
    make("P2", march(31, 9), resolve=90),  # resolved 10:30: its postmortem is not due yet
    make("P2", march(30)),  # still open
]
P4_AT_START = make("P4", NOW - timedelta(days=30))  # exactly at the period's start: inside
PREVIOUS = [
    make("P1", datetime(2026, 2, 10, tzinfo=UTC), resolve=120, runbook="site-down"),
    make("P1", datetime(2026, 2, 11, tzinfo=UTC), resolve=240),
    make("P3", datetime(2026, 2, 12, tzinfo=UTC), ack=5, resolve=60),
]
TOO_OLD = make("P1", datetime(2026, 1, 1, tzinfo=UTC), resolve=5)
INCIDENTS = [*P1, *P2, P4_AT_START, *PREVIOUS, TOO_OLD]


def run(incident: Incident, step: str, state: str, kind: str = "http") -> StepRun:
    return StepRun(
        incident_id=incident.id,  # type: ignore[arg-type]
        runbook_id=incident.runbook_id or "site-down",
        step_id=step,
        kind=kind,
        state=state,
        requested_by="U1",
    )


RUNS = [
    run(P1[0], "check-health", "succeeded"),
    run(P1[1], "check-health", "failed"),
    run(P1[2], "check-health", "unknown"),
    run(P1[0], "maintenance-on", "denied"),  # never ran
    run(P1[1], "maintenance-on", "awaiting_approval"),  # not yet
    run(P1[0], "tell-support", "ticked", kind="check"),  # a tick, not an action
    run(P1[6], "disk-usage", "succeeded"),
    run(P1[3], "vercel-status", "succeeded", kind="statuspage"),
    run(P1[4], "vercel-status", "succeeded", kind="statuspage"),
    run(PREVIOUS[0], "check-health", "succeeded"),  # the previous period's
]


def insights():
    return compute(INCIDENTS, RUNS, period="30d", now=NOW, postmortem_due=DUE)


def test_median_and_nearest_rank_p90():
    assert median([3, 1, 2]) == 2 and median([4, 1, 3, 2]) == 2.5
    assert p90(list(range(1, 11))) == 9  # ⌈0.9·10⌉ = 9th
    assert p90(list(range(1, 12))) == 10  # ⌈9.9⌉ = 10th
    assert p90([7]) == 7 and p90([]) is None and median([]) is None


def test_counts_by_severity_with_the_period_boundaries():
    current = insights().current
    assert current.count == 15
    assert {s: v.count for s, v in current.by_severity.items()} == {
        Severity.P1: 11,
        Severity.P2: 3,
        Severity.P3: 0,
        Severity.P4: 1,
    }
    assert insights().previous.count == 3


def test_mtta_and_mttr_median_and_p90_per_severity():
    by = insights().current.by_severity
    assert by[Severity.P1].mttr == Spread(11, 60 * MIN, 100 * MIN)
    assert by[Severity.P1].mtta == Spread(4, 2.5 * MIN, 4 * MIN)
    assert by[Severity.P2].mttr == Spread(2, 60 * MIN, 90 * MIN)
    assert by[Severity.P2].mtta == Spread(0, None, None)
    assert by[Severity.P3].mttr == Spread(0, None, None)
    overall = insights().current.mttr
    # 10..110 and 30, 90: thirteen values, the 7th is 60; p90 is the ⌈11.7⌉ = 12th: 100.
    assert overall == Spread(13, 60 * MIN, 100 * MIN)


def test_previous_period_for_comparison():
    previous = insights().previous
    assert previous.by_severity[Severity.P1].mttr == Spread(2, 180 * MIN, 240 * MIN)
    assert previous.mtta == Spread(1, 5 * MIN, 5 * MIN)
    assert previous.runbooks == [("site-down", 1)]
    assert previous.actions == [(("site-down", "check-health"), 1)]


def test_postmortems_on_time_late_and_pending():
    assert insights().current.postmortems == Postmortems(on_time=4, late=8, pending=1)


def test_runbooks_and_actions_used_most():
    current = insights().current
    assert current.runbooks == [("site-down", 6), ("database-disk", 3), ("payment-failures", 1)]
    assert current.actions == [
        (("site-down", "check-health"), 3),
        (("site-down", "vercel-status"), 2),
        (("database-disk", "disk-usage"), 1),
    ]


def test_weekly_series_for_the_chart():
    weeks = insights().weeks
    assert [w.start.date().isoformat() for w in weeks] == [
        "2026-02-23",
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
        "2026-03-23",
        "2026-03-30",
    ]
    assert [w.counts[Severity.P1] for w in weeks] == [0, 7, 4, 0, 0, 0]
    assert [w.counts[Severity.P2] for w in weeks] == [0, 0, 0, 1, 0, 2]
    assert [w.counts[Severity.P4] for w in weeks] == [1, 0, 0, 0, 0, 0]
    assert [w.mttr_median for w in weeks] == [None, 40 * MIN, 95 * MIN, 30 * MIN, None, 90 * MIN]
    assert week_start(march(4, 17)) == datetime(2026, 3, 2, tzinfo=UTC)
