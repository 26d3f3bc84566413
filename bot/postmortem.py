"""The post-incident review: the runbook's template, filled from the incident and its timeline."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from bot.markdown import slack_to_markdown, table_cell
from bot.templates import Templates
from storage.models import Incident, TimelineEvent

TEMPLATE = "postmortem.md.j2"


@dataclass(frozen=True)
class Milestone:
    time: str
    label: str


def _hhmm(event_at: object) -> str:
    return event_at.strftime("%H:%M") if event_at else "—"  # type: ignore[attr-defined]


def _status_to(event: TimelineEvent) -> str | None:
    if event.kind != "status" or not event.data:
        return None
    return json.loads(event.data).get("to")


def _lines(text: str | None) -> list[str]:
    return [
        slack_to_markdown(line.strip("-• ").strip())
        for line in (text or "").splitlines()
        if line.strip("-• ").strip()
    ]


def milestones(incident: Incident, events: list[TimelineEvent]) -> list[Milestone]:
    identified = next((e for e in events if _status_to(e) == "identified"), None)
    fixed = next((e for e in events if _status_to(e) == "monitoring"), None)
    detected = next((e for e in events if e.kind == "detected"), None)
    first_alert = detected.at if detected else incident.declared_at
    return [
        Milestone(_hhmm(first_alert), "First alert / detection"),
        Milestone(_hhmm(incident.declared_at), "Incident declared"),
        Milestone(_hhmm(identified.at if identified else None), "Root cause identified"),
        Milestone(_hhmm(fixed.at if fixed else None), "Fix deployed"),
        Milestone(_hhmm(incident.resolved_at), "Incident resolved"),
    ]


def render(templates: Templates, incident: Incident, timeline: Iterable[TimelineEvent]) -> str:
    events = [e for e in timeline if not e.deleted]
    resolved = incident.resolved_at
    minutes = int((resolved - incident.declared_at).total_seconds() // 60) if resolved else "—"
    where = f"#{incident.channel_name}" if incident.channel_name else "thread in #incidents"
    rows = [
        {
            "time": e.at.strftime("%H:%M"),
            "who": "@" + e.actor if e.actor != "bot" else "bot",
            "text": slack_to_markdown(e.text),
            "cell": table_cell(e.text),
        }
        for e in events
    ]
    key_rows = [row for row, e in zip(rows, events, strict=True) if e.key]
    return templates.render(
        TEMPLATE,
        incident={
            "ref": f"INC-{incident.id}",
            "title": slack_to_markdown(incident.title),
            "date": incident.declared_at.strftime("%Y-%m-%d"),
            "severity": incident.severity,
            "commander": "@" + incident.commander_id,
            "where": where,
            "runbook": incident.runbook_id,
            "root_cause": slack_to_markdown(incident.root_cause or "[not given]"),
            "duration_minutes": minutes,
            "users_affected": incident.impact_users or "unknown",
            "revenue_impact": incident.impact_revenue or "unknown",
        },
        milestones=milestones(incident, events),
        went_well=_lines(incident.went_well),
        to_improve=_lines(incident.to_improve),
        action_items=_lines(incident.action_items),
        key_events=key_rows,
        timeline=rows,
    )
