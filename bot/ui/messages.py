"""Messages the bot posts. Each function returns (fallback text, blocks) for one kind."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.severity import Severity, Status
from bot.text import escape, safe, truncate
from bot.ui import format as fmt
from bot.ui import ids
from storage.models import Incident, TimelineEvent

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
MESSAGE_BLOCKS = 50

Message = tuple[str, list[dict[str, object]]]


def _dicts(blocks: Sequence[Block]) -> list[dict[str, object]]:
    # to_dict() validates each block against Slack's limits (SlackObjectFormationError).
    return [b.to_dict() for b in blocks[:MESSAGE_BLOCKS]]


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, 2000))])


def incident_ref(incident: Incident) -> str:
    return f"INC-{incident.id}"


def public_title(incident: Incident) -> str:
    """The title as shown outside the incident: private incidents keep theirs to themselves."""
    return "private incident" if incident.private else incident.title


def _headline(incident: Incident, *, inside: bool = False) -> str:
    severity = Severity(incident.severity)
    title = incident.title if inside else public_title(incident)
    return truncate(f"{incident_ref(incident)} · {severity.value} · {title}", HEADER_LIMIT)


def _where(incident: Incident) -> str:
    if incident.channel_id:
        return fmt.channel(incident.channel_id)
    if Severity(incident.severity).has_channel:
        return "channel being created…"
    return "this thread"


def root_message(incident: Incident) -> Message:
    """The one message per incident in #incidents; its thread mirrors the timeline."""
    severity = Severity(incident.severity)
    status = Status(incident.status)
    text = (
        f"{severity.emoji} {incident_ref(incident)} {severity.value}: {public_title(incident)}"
        f" — {status.label}"
    )
    fields = [
        f"*Status:* {status.label}",
        f"*Severity:* {severity.label}",
        f"*Commander:* {fmt.user(incident.commander_id)}",
        f"*Where:* {'a private channel' if incident.private else _where(incident)}",
    ]
    blocks: list[Block] = [
        HeaderBlock(text=_headline(incident)),
        SectionBlock(fields=[MarkdownTextObject(text=f) for f in fields]),
    ]
    if incident.last_update and not incident.private and incident.last_update_at:
        blocks.append(
            _section(
                f"*Latest update* ({fmt.hhmm(incident.last_update_at)}): "
                f"{safe(incident.last_update, 2500)}"
            )
        )
    blocks += [
        _context(
            f"Declared {fmt.stamp(incident.declared_at)} by {fmt.user(incident.declared_by)}"
            + (f" · resolved {fmt.stamp(incident.resolved_at)}" if incident.resolved_at else "")
        ),
    ]
    return truncate(safe(text, 3000), 3000), _dicts(blocks)


def header_message(incident: Incident) -> Message:
    """The pinned header of an incident channel."""
    severity = Severity(incident.severity)
    status = Status(incident.status)
    lines = [
        f"*Severity:* {severity.label}",
        f"*Status:* {status.label}",
        f"*Commander:* {fmt.user(incident.commander_id)}",
        f"*Response target:* {severity.response_target}",
    ]
    if incident.runbook_id:
        lines.append(f"*Runbook:* `{incident.runbook_id}`")
    blocks: list[Block] = [
        HeaderBlock(text=_headline(incident, inside=True)),
        _section("\n".join(lines)),
    ]
    if incident.description:
        blocks.append(_section(safe(incident.description, SECTION_LIMIT)))
    blocks.append(
        _context(
            "Work the incident here. `/incident help` lists the commands; "
            "react :pushpin: to mark a message as key for the postmortem."
        )
    )
    text = (
        f"{incident_ref(incident)} {severity.value} · {status.label}"
        f" · commander <@{incident.commander_id}>"
    )
    return text, _dicts(blocks)


def topic(incident: Incident) -> str:
    severity = Severity(incident.severity)
    status = Status(incident.status)
    return truncate(
        f"{severity.value} · {status.label} · Commander: <@{incident.commander_id}> · "
        f"{incident_ref(incident)}: {escape(incident.title)}",
        250,
    )


def timeline_line(event: TimelineEvent) -> str:
    """One timeline event as a single mrkdwn line (thread replies, announcements)."""
    return f"`{fmt.hhmm(event.at)}` {fmt.user(event.actor)} {event.text}"


def announcement(event: TimelineEvent) -> Message:
    line = truncate(timeline_line(event), SECTION_LIMIT)
    return line, _dicts([_section(line)])


def resolved_message(incident: Incident, public_text: str) -> Message:
    """Told in the incident's channel on resolve, with the public "resolved" text to copy."""
    assert incident.resolved_at is not None
    duration = fmt.duration(incident.resolved_at - incident.declared_at)
    text = (
        f":white_check_mark: *{incident_ref(incident)} resolved* after {duration}.\n"
        f"*Root cause:* {safe(incident.root_cause or '—', 2000)}"
    )
    copy = f"Status page / social text, ready to copy:\n```{truncate(escape(public_text), 2500)}```"
    return truncate(text, 3000), _dicts([_section(text), _section(copy)])


def sections(text: str) -> list[dict[str, object]]:
    """Long mrkdwn as several sections (each within Slack's 3000), split on line ends."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines():
        line = truncate(line, SECTION_LIMIT)
        if current and len(current) + 1 + len(line) > SECTION_LIMIT:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    if len(chunks) > MESSAGE_BLOCKS:
        chunks = chunks[: MESSAGE_BLOCKS - 1] + ["… (more than one message can hold)"]
    return _dicts([_section(c) for c in chunks])


def help_message(text: str) -> Message:
    return text, _dicts([_section(text)])


def error_message(message: str, usage: str | None) -> Message:
    text = f":warning: {message}"
    if usage:
        text += f"\nUsage: `{usage}`"
    return text, _dicts([_section(text)])


def info_message(text: str) -> Message:
    return text, _dicts([_section(text)])


def open_incidents(incidents: Sequence[Incident], now: datetime) -> Message:
    if not incidents:
        text = "No open incidents. :tada:"
        return text, _dicts([_section(text)])
    blocks: list[Block] = [HeaderBlock(text=f"Open incidents ({len(incidents)})")]
    shown = incidents[: MESSAGE_BLOCKS - 2]
    for incident in shown:
        severity = Severity(incident.severity)
        blocks.append(
            _section(
                f"{severity.emoji} *{incident_ref(incident)}* {severity.value} · "
                f"{safe(public_title(incident), 200)}\n"
                f"{Status(incident.status).label} · commander {fmt.user(incident.commander_id)} · "
                f"{_where(incident)} · open {fmt.duration(now - incident.declared_at)}"
            )
        )
    if len(incidents) > len(shown):
        blocks.append(_context(f"…and {len(incidents) - len(shown)} more."))
    return f"{len(incidents)} open incidents", _dicts(blocks)


@dataclass(frozen=True)
class TimelinePage:
    incident: Incident
    events: Sequence[TimelineEvent]
    page: int
    pages: int


def timeline_page(view: TimelinePage) -> Message:
    head = f"Timeline of {incident_ref(view.incident)} — page {view.page} of {view.pages}"
    lines = []
    for event in view.events:
        mark = ":pushpin: " if event.key else ""
        gone = " _(deleted)_" if event.deleted else ""
        lines.append(f"{mark}{timeline_line(event)}{gone}")
    body = "\n".join(lines) or "_Nothing on this page._"
    blocks: list[Block] = [_section(f"*{head}*"), _section(body)]
    if view.page < view.pages:
        blocks.append(
            _context(f"Next: `/incident timeline {incident_ref(view.incident)} {view.page + 1}`")
        )
    return head, _dicts(blocks)


def similar_prompt(existing: Incident, declare_value: dict[str, object]) -> Message:
    text = (
        f"{incident_ref(existing)} is already open and sounds the same: "
        f"*{safe(existing.title, 200)}* ({existing.severity}, {_where(existing)}). "
        "Join it, or declare a new incident anyway?"
    )
    blocks: list[Block] = [
        _section(text),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text=f"Join {incident_ref(existing)}",
                    action_id=ids.SIMILAR_JOIN,
                    value=str(existing.id),
                    style="primary",
                ),
                ButtonElement(
                    text="Declare anyway",
                    action_id=ids.SIMILAR_DECLARE,
                    value=json.dumps(declare_value, separators=(",", ":")),
                ),
            ]
        ),
    ]
    return text, _dicts(blocks)


def postmortem_posted(incident: Incident) -> Message:
    text = (
        f":memo: Postmortem draft for {incident_ref(incident)} attached. "
        "Edit it and share it within 24 hours."
    )
    return text, _dicts([_section(text)])


def divider() -> dict[str, object]:
    return DividerBlock().to_dict()


def declared(incident: Incident, incidents_channel: str) -> Message:
    severity = Severity(incident.severity)
    if severity.has_channel:
        where = (
            "Its channel is being created and you will be invited."
            if not incident.channel_id
            else f"Work it in {fmt.channel(incident.channel_id)}."
        )
    else:
        where = f"It lives as a thread in {fmt.channel(incidents_channel)}."
    text = (
        f":rotating_light: *{incident_ref(incident)}* declared ({severity.label}): "
        f"{safe(incident.title, 200)}\n{where} Response target: {severity.response_target}."
    )
    return text, _dicts([_section(text)])


_WHAT = {
    "refresh_root": "the #incidents message",
    "refresh_header": "the channel header",
    "post_event": "a timeline post",
    "create_channel": "the incident channel",
    "upload_postmortem": "the postmortem file",
}


def delivery_failure(incident_id: object, op: str, error: object) -> str:
    """Said in #incidents about a Slack write that could not be made, once Slack answers."""
    what = _WHAT.get(op, f"a Slack update ({op})")
    about = f"INC-{incident_id}" if incident_id else "the bot"
    return (
        f":warning: Slack refused {what} for {about} ({error}); it was not retried. "
        "The database has the whole record"
        + (f": `/incident timeline INC-{incident_id}` shows it." if incident_id else ".")
    )
