"""Who may do what. Stated in the README's authorization table; enforced here.

Anyone who can reach the incident may declare, note, post updates, acknowledge, run plain
runbook actions and tick items. Steering the incident (severity, status, commander, resolve,
reopen, the review, GDPR notification) is for the people leading it: the commander, the
declarer, on-call and the approvers (everyone, when neither on-call nor approvers are set, so
an incident cannot be locked out). Dangerous actions need an approver who is not the
requester (bot/runbook_runs.py)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.errors import IncidentError
from storage.models import Incident


class NotAllowed(IncidentError):
    pass


class Roles:
    def __init__(self, oncall: Iterable[str | None], approvers: Iterable[str]) -> None:
        self.oncall = {u for u in oncall if u}
        self.approvers = set(approvers)

    def leads(self, incident: Incident) -> set[str]:
        return {incident.commander_id, incident.declared_by, *self.oncall, *self.approvers}

    def check_may_steer(self, incident: Incident, user: str, what: str) -> None:
        # With neither on-call nor approvers configured there is nobody to fall back on when
        # the commander is away, so everyone may steer rather than nobody.
        if not self.oncall and not self.approvers:
            return
        if user in self.leads(incident):
            return
        raise NotAllowed(
            f"Only the people leading INC-{incident.id} may {what}: the commander "
            f"(<@{incident.commander_id}>), the declarer, on-call or an approver. "
            "Ask the commander, or to be made commander."
        )
