"""Messages of the clocks: pages, reminders, the status update form and the clock list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.clocks import LABELS
from bot.severity import Severity, Status
from bot.text import escape, safe, truncate
from bot.ui import ids
from storage.models import Clock as ClockRow
from storage.models import Incident

Message = tuple[str, list[dict[str, object]]]


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, 3000)))


def _dicts(blocks: Sequence[Block]) -> list[dict[str, object]]:
    return [b.to_dict() for b in blocks]


def page(incident: Incident, user: str, level: str, *, in_dm: bool) -> Message:
    severity = Severity(incident.severity)
    who = "You are" if in_dm else f"<@{user}> is"
    backup = " (escalated: the primary did not acknowledge)" if level == "backup" else ""
    title = "a private incident" if incident.private and not in_dm else safe(incident.title, 200)
    where = f" in <#{incident.channel_id}>" if incident.channel_id else ""
    text = (
        f":rotating_light: {who} paged for *INC-{incident.id}* ({severity.label}): "
        f"{title}{where}{backup}. Response target: {severity.response_target}."
    )
    button = ButtonElement(
        text="Acknowledge", action_id=ids.PAGE_ACK, value=str(incident.id), style="primary"
    )
    return text, _dicts([_section(text), ActionsBlock(elements=[button])])


def update_reminder(incident: Incident, every: str, late: bool) -> Message:
    text = (
        f":hourglass: <@{incident.commander_id}> no status update on INC-{incident.id} for "
        f"{every}{' (late)' if late else ''}. Post one so everyone knows where things are."
    )
    button = ButtonElement(
        text="Post status update",
        action_id=ids.OPEN_UPDATE,
        value=str(incident.id),
        style="primary",
    )
    return text, _dicts([_section(text), ActionsBlock(elements=[button])])


def status_page_reminder(incident: Incident, draft: str, open_for: str, late: bool) -> Message:
    text = (
        f":globe_with_meridians: INC-{incident.id} has been open {open_for} and nothing is on "
        f"the public status page yet{' (late)' if late else ''}. Ready to copy:"
    )
    # Shown as code to copy: escaped (no pings), and no backtick to break out of the block.
    draft = escape(draft).replace("`", "'")
    blocks: list[Block] = [
        _section(text),
        _section(f"```{truncate(draft, 2800)}```"),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="I posted it", value=str(incident.id), action_id=ids.STATUS_PAGE_POSTED
                )
            ]
        ),
    ]
    return f"{text}\n{draft}", _dicts(blocks)


def status_update(incident: Incident, text: str, user: str) -> Message:
    status = Status(incident.status).label
    body = (
        f":loudspeaker: *Status update — INC-{incident.id}* ({incident.severity}, {status}) "
        f"from <@{user}>:\n{safe(text, 2800)}"
    )
    return body, _dicts([_section(body)])


def update_modal(incident: Incident, draft: str) -> dict[str, object]:
    broadcast = Option(value="broadcast", label="Also send to #incidents (broadcast the reply)")
    return View(
        type="modal",
        callback_id=ids.UPDATE_VIEW,
        title=PlainTextObject(text=truncate(f"Update INC-{incident.id}", 24)),
        submit=PlainTextObject(text="Post update"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=json.dumps({"i": incident.id}),
        blocks=[
            InputBlock(
                block_id=ids.UPDATE_TEXT,
                label="Status update",
                element=PlainTextInputElement(
                    action_id=ids.UPDATE_TEXT,
                    multiline=True,
                    initial_value=truncate(draft, 3000),
                    max_length=3000,
                ),
            ),
            InputBlock(
                block_id=ids.UPDATE_BROADCAST,
                label="Where",
                optional=True,
                element=CheckboxesElement(action_id=ids.UPDATE_BROADCAST, options=[broadcast]),
            ),
        ],
    ).to_dict()


def clock_list(incident: Incident, clocks: Sequence[ClockRow], zone: str | None) -> Message:
    if not clocks:
        text = f"INC-{incident.id} has no running clocks."
        return text, _dicts([_section(text)])
    tz = _zone(zone)
    lines = [f"*Clocks of INC-{incident.id}*"]
    for row in clocks:
        due: datetime = row.due_at
        local = f" · {due.astimezone(tz):%a %H:%M} your time ({zone})" if tz else ""
        extra = ""
        if row.data and "hours" in (data := json.loads(row.data)):
            extra = f" ({data['hours']} h)"
        lines.append(f"• {LABELS.get(row.kind, row.kind)}{extra}: {due:%Y-%m-%d %H:%M} UTC{local}")
    text = "\n".join(lines)
    return text, _dicts([_section(text)])


def _zone(name: str | None) -> ZoneInfo | None:
    if not name or name == "UTC":
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return None


def archive_note(incident: Incident) -> str:
    where = (
        f"<{incident.postmortem_url}|the postmortem>"
        if incident.postmortem_url
        else "the postmortem draft in this channel's files"
    )
    return (
        f":file_cabinet: INC-{incident.id} was resolved; this channel is being archived. "
        f"Read {where}; `/incident postmortem INC-{incident.id}` posts it again."
    )
