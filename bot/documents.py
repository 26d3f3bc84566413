"""Documents and messages drafted from templates (templates/, overridable with TEMPLATES_DIR):
the post-incident review, the resolved status text, the breach notice e-mail, the #incidents
summary and the daily digest.

All of them are filled from one set of fields, built here, so a template can name any field
of the incident the same way. Slack-bound templates get their user text escaped first."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from bot.markdown import slack_to_markdown, table_cell
from bot.runbooks import RunbookSet
from bot.severity import Severity, Status
from bot.templates import TemplateProblem, Templates
from bot.text import escape
from bot.ui.format import duration
from storage.models import Incident, StepRun, TimelineEvent
from storage.queries import DocumentEvent

GDPR_WINDOW = timedelta(hours=72)
TEMPLATES = {
    "postmortem": "postmortem.md.j2",
    "breach_notice": "breach_notice.md.j2",
    "status_outage": "status_outage.txt.j2",
    "status_update": "status_update.txt.j2",
    "status_resolved": "status_resolved.txt.j2",
    "summary": "summary.slack.j2",
    "digest": "digest.slack.j2",
}


@dataclass(frozen=True)
class Milestone:
    time: str
    label: str


class TimelineRow(NamedTuple):
    """One row of a document's timeline. A tuple with attributes, not a dict: templates read
    `event.time`, and Jinja tries an attribute first (a dict fails that try on every field
    of every row: a fifth of the render of a 50,000-row timeline)."""

    time: str
    who: str
    kind: str
    text: str
    cell: str
    key: bool


def _hhmm(at: datetime | None) -> str:
    return at.strftime("%H:%M") if at else "—"


def _status_to(event: DocumentEvent) -> str | None:
    if event.kind != "status" or not event.data:
        return None
    return json.loads(event.data).get("to")


def _lines(text: str | None) -> list[str]:
    stripped = (line.strip("-• ").strip() for line in (text or "").splitlines())
    return [line for line in stripped if line]


def milestones(incident: Incident, events: Sequence[DocumentEvent]) -> list[Milestone]:
    identified = next((e for e in events if _status_to(e) == "identified"), None)
    fixed = next((e for e in events if _status_to(e) == "monitoring"), None)
    detected = next((e for e in events if e.kind == "detected"), None)
    return [
        Milestone(
            detected.time if detected else _hhmm(incident.declared_at), "First alert / detection"
        ),
        Milestone(_hhmm(incident.declared_at), "Incident declared"),
        Milestone(identified.time if identified else "—", "Root cause identified"),
        Milestone(fixed.time if fixed else "—", "Fix deployed"),
        Milestone(_hhmm(incident.resolved_at), "Incident resolved"),
    ]


def document_events(events: Iterable[TimelineEvent]) -> list[DocumentEvent]:
    """ORM events as `queries.document_timeline` reads them from the database."""
    return [
        DocumentEvent(_hhmm(e.at), e.actor, e.kind, e.text, e.key, e.data)
        for e in events
        if not e.deleted
    ]


class Documents:
    def __init__(
        self,
        templates: Templates,
        runbooks: RunbookSet,
        fields: Mapping[str, object],
        incidents_channel: str,
    ) -> None:
        self.templates = templates
        self.runbooks = runbooks
        self.fields = dict(fields)
        self.incidents_channel = incidents_channel

    # ---- the fields ---------------------------------------------------------------------

    def incident_fields(
        self, incident: Incident, *, slack: bool, now: datetime | None = None, public: bool = False
    ) -> dict[str, Any]:
        """Everything a template may say about an incident. slack=True: user text escaped and
        people as mentions; otherwise plain Markdown. public=True: for #incidents, where a
        private incident shows no title, description or root cause."""
        text = escape if slack else slack_to_markdown
        person = (lambda u: f"<@{u}>") if slack else (lambda u: f"@{u}")
        end = incident.resolved_at or now
        detected = incident.breach_detected_at
        if incident.channel_id:
            where = f"<#{incident.channel_id}>" if slack else f"#{incident.channel_name}"
        else:
            where = "thread in #incidents" if not slack else f"<#{self.incidents_channel}>"
        hidden = public and incident.private
        if hidden:
            text = lambda _value: "[private]"  # noqa: E731
        return {
            "id": incident.id,
            "ref": f"INC-{incident.id}",
            "title": "private incident" if hidden else text(incident.title),
            "private": incident.private,
            "date": incident.declared_at.strftime("%Y-%m-%d"),
            "severity": incident.severity,
            "severity_label": Severity(incident.severity).label,
            "status": incident.status,
            "status_label": Status(incident.status).label,
            "commander": person(incident.commander_id),
            "where": where,
            "runbook": incident.runbook_id,
            "description": text(incident.description or ""),
            "declared_at": incident.declared_at.strftime("%Y-%m-%d %H:%M UTC"),
            "resolved_at": (
                incident.resolved_at.strftime("%Y-%m-%d %H:%M UTC")
                if incident.resolved_at
                else None
            ),
            "duration": duration(end - incident.declared_at) if end else "—",
            "duration_minutes": (
                int((end - incident.declared_at).total_seconds() // 60) if end else "—"
            ),
            "age": duration(now - incident.declared_at) if now else "—",
            "root_cause": text(incident.root_cause or "[not given]"),
            "users_affected": text(incident.impact_users or "unknown"),
            "revenue_impact": text(incident.impact_revenue or "unknown"),
            "last_update": text(incident.last_update or ""),
            "last_update_at": (
                incident.last_update_at.strftime("%H:%M UTC") if incident.last_update_at else None
            ),
            "breach_detected_at": (detected.strftime("%Y-%m-%d %H:%M UTC") if detected else None),
            "notify_by": (
                (detected + GDPR_WINDOW).strftime("%Y-%m-%d %H:%M UTC") if detected else None
            ),
            "postmortem_done": incident.postmortem_done_at is not None,
        }

    def _timeline(self, events: Iterable[DocumentEvent]) -> list[TimelineRow]:
        rows = []
        add = rows.append
        # Unpacked by position: a database row's attribute lookup costs ten times as much,
        # and a long timeline has tens of thousands of rows.
        for time, actor, kind, text, key, _data in events:
            markdown = slack_to_markdown(text)  # once per row
            who = "@" + actor if actor != "bot" else "bot"
            add(TimelineRow(time, who, kind, markdown, table_cell(markdown, converted=True), key))
        return rows

    def _phase(self, runbook_id: str, step_id: str) -> str | None:
        runbook = self.runbooks.get(runbook_id)
        for phase, step in runbook.steps() if runbook else ():
            if step.id == step_id:
                return phase
        return None

    def _actions(self, runs: Iterable[StepRun]) -> list[dict[str, Any]]:
        rows = []
        for run in runs:
            if run.kind not in ("http", "statuspage"):
                continue
            runbook = self.runbooks.get(run.runbook_id)
            step = runbook.step(run.step_id) if runbook else None
            rows.append(
                {
                    "phase": self._phase(run.runbook_id, run.step_id),
                    "label": step.label if step else run.step_id,
                    "state": run.state,
                    "who": "@" + run.requested_by,
                    "time": _hhmm(run.finished_at or run.requested_at),
                    "result": slack_to_markdown(run.summary or ""),
                    "approved_by": "@" + run.decided_by if run.decided_by else None,
                    "break_glass": run.break_glass,
                    "reason": run.reason or "",
                }
            )
        return rows

    def _checks(self, runs: Iterable[StepRun]) -> list[str]:
        done: dict[str, bool] = {}
        for run in runs:
            if run.kind == "check":
                done[run.step_id] = run.state == "ticked"
        labels = []
        for step_id, ticked in done.items():
            step = next((rb.step(step_id) for rb in self.runbooks if rb.step(step_id)), None)
            if ticked and step is not None:
                labels.append(step.label)
        return labels

    # ---- the documents --------------------------------------------------------------------

    def _render(self, name: str, **context: Any) -> str:
        return self.templates.render(TEMPLATES[name], **self.fields, **context)

    def postmortem(
        self, incident: Incident, events: Sequence[DocumentEvent], runs: Sequence[StepRun]
    ) -> str:
        """`events`: `queries.document_timeline` (or `document_events` of ORM events)."""
        rows = self._timeline(events)
        # Key (📌) moments first, as the review reads them before the full table.
        return self._render(
            "postmortem",
            incident=self.incident_fields(incident, slack=False),
            milestones=milestones(incident, events),
            went_well=[slack_to_markdown(x) for x in _lines(incident.went_well)],
            to_improve=[slack_to_markdown(x) for x in _lines(incident.to_improve)],
            action_items=[slack_to_markdown(x) for x in _lines(incident.action_items)],
            key_events=[r for r in rows if r.key],
            timeline=rows,
            actions=self._actions(runs),
        )

    def breach_notice(self, incident: Incident, runs: Sequence[StepRun]) -> str:
        return self._render(
            "breach_notice",
            incident=self.incident_fields(incident, slack=False),
            # What was done about it: mitigations that worked, not the diagnosis.
            actions=[
                a
                for a in self._actions(runs)
                if a["state"] == "succeeded" and a["phase"] == "mitigation"
            ],
            checks=self._checks(runs),
        )

    def status_outage(self, incident: Incident) -> str:
        return self._render(
            "status_outage", incident=self.incident_fields(incident, slack=False)
        ).strip()

    def status_update(self, incident: Incident) -> str:
        return self._render(
            "status_update", incident=self.incident_fields(incident, slack=False)
        ).strip()

    def status_resolved(self, incident: Incident) -> str:
        return self._render(
            "status_resolved", incident=self.incident_fields(incident, slack=False)
        ).strip()

    def summary(
        self, incident: Incident, now: datetime, postmortem_link: str | None, *, public: bool = True
    ) -> str:
        return self._render(
            "summary",
            incident=self.incident_fields(incident, slack=True, now=now, public=public),
            postmortem_link=postmortem_link,
        ).strip()

    def digest(
        self,
        now: datetime,
        open_incidents: Sequence[Incident],
        resolved: Sequence[Incident],
        overdue: Sequence[Incident],
    ) -> str:
        def fields(items: Sequence[Incident]) -> list[dict[str, Any]]:
            return [self.incident_fields(i, slack=True, now=now, public=True) for i in items]

        return self._render(
            "digest",
            date=now.strftime("%Y-%m-%d"),
            open_incidents=fields(open_incidents),
            resolved=fields(resolved),
            overdue=fields(overdue),
        ).strip()

    # ---- checking ---------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Render every template against a sample incident; a problem names file and line."""
        now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        sample = Incident(
            id=1,
            title="Sample",
            severity="P1",
            status="resolved",
            commander_id="U1",
            declared_by="U1",
            declared_at=now - timedelta(hours=1),
            resolved_at=now,
            root_cause="sample",
            channel_id="C1",
            channel_name="inc-sample",
            breach_detected_at=now - timedelta(hours=2),
        )
        event = TimelineEvent(incident_id=1, at=now, actor="U1", kind="note", text="x", key=True)
        run = StepRun(
            incident_id=1,
            runbook_id="x",
            step_id="x",
            kind="http",
            state="succeeded",
            requested_by="U1",
            requested_at=now,
            summary="ok",
        )
        attempts = {
            "postmortem": lambda: self.postmortem(sample, document_events([event]), [run]),
            "breach_notice": lambda: self.breach_notice(sample, [run]),
            "status_outage": lambda: self.status_outage(sample),
            "status_update": lambda: self.status_update(sample),
            "status_resolved": lambda: self.status_resolved(sample),
            "summary": lambda: self.summary(sample, now, "https://x"),
            "digest": lambda: self.digest(now, [sample], [sample], [sample]),
        }
        problems = []
        for attempt in attempts.values():
            try:
                attempt()
            except TemplateProblem as exc:
                problems.append(str(exc))
        return problems
