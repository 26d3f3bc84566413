"""Reading what /incident stats needs: the incidents of the last two periods and their runs."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import Clock
from bot.insights import PERIODS, Insights, compute
from bot.runbooks import RunbookSet
from storage import queries
from storage.db import Database


class StatsService:
    def __init__(
        self, db: Database, clock: Clock, runbooks: RunbookSet, postmortem_due: timedelta
    ) -> None:
        self.db = db
        self.clock = clock
        self.runbooks = runbooks
        self.postmortem_due = postmortem_due

    async def insights(self, period: str) -> Insights:
        now = self.clock.now()
        async with self.db.session() as session:
            incidents = await queries.declared_between(session, now - 2 * PERIODS[period], now)
            runs = await queries.runs_of_incidents(session, [i.id for i in incidents])  # type: ignore[misc]
        return compute(incidents, runs, period=period, now=now, postmortem_due=self.postmortem_due)

    def step_labels(self, insights: Insights) -> dict[tuple[str, str], str]:
        labels = {}
        for runbook_id, step_id in (key for key, _ in insights.current.actions):
            runbook = self.runbooks.get(runbook_id)
            step = runbook.step(step_id) if runbook else None
            if step is not None:
                labels[(runbook_id, step_id)] = step.label
        return labels
