"""The App Home tab: what is burning now, and what is waiting on the viewer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
from slack_sdk.models.views import View

from bot.severity import Severity, Status
from bot.text import safe, truncate
from bot.ui import format as fmt
from bot.ui import ids
from bot.ui.messages import incident_ref
from storage.models import Incident

HOME_BLOCKS = 100
SECTION_LIMIT = 3000


@dataclass(frozen=True)
class Pending:
    """One thing waiting on the viewer, already phrased (mrkdwn)."""

    text: str


@dataclass(frozen=True)
class HomeData:
    viewer: str
    now: datetime
    incidents_channel: str
    # Open incidents the viewer may see, most severe first.
    incidents: Sequence[Incident]
    pending: Sequence[Pending] = field(default_factory=tuple)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, 2000))])


def _where(incident: Incident, incidents_channel: str) -> str:
    if incident.channel_id:
        return fmt.channel(incident.channel_id)
    if incident.private or Severity(incident.severity).has_channel:
        return "channel being created…"
    return f"thread in {fmt.channel(incidents_channel)}"


def incident_block(incident: Incident, now: datetime, incidents_channel: str) -> SectionBlock:
    severity = Severity(incident.severity)
    lines = [
        f"{severity.emoji} *{incident_ref(incident)}* {severity.value} · "
        f"{safe(incident.title, 200)}" + (" :lock:" if incident.private else ""),
        f"{Status(incident.status).label} · commander {fmt.user(incident.commander_id)} · "
        f"open {fmt.duration(now - incident.declared_at)} · "
        f"{_where(incident, incidents_channel)}",
    ]
    if incident.last_update and incident.last_update_at:
        lines.append(
            f"_Last update {fmt.hhmm(incident.last_update_at)}:_ {safe(incident.last_update, 300)}"
        )
    else:
        lines.append("_No status update yet._")
    return _section("\n".join(lines))


def _pending_block(pending: Sequence[Pending]) -> SectionBlock:
    lines = ["*Waiting on you*"]
    size = len(lines[0])
    for shown, item in enumerate(pending):
        line = f"• {item.text}"
        if size + len(line) + 60 > SECTION_LIMIT:
            lines.append(f"…and {len(pending) - shown} more.")
            break
        lines.append(line)
        size += len(line) + 1
    return _section("\n".join(lines))


def home_view(data: HomeData) -> dict[str, object]:
    """The Home tab for one viewer, within Slack's 100 blocks: incidents beyond what fits are
    summarised with a count."""
    top: list[Block] = [
        HeaderBlock(text="Incidents"),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Declare incident",
                    action_id=ids.HOME_DECLARE,
                    value="declare",
                    style="danger",
                )
            ]
        ),
    ]
    if data.pending:
        top += [_pending_block(data.pending), DividerBlock()]
    count = len(data.incidents)
    top.append(_section(f"*Open incidents ({count})*" if count else "*No open incidents.* :tada:"))
    footer = _context(
        f"Updated {fmt.stamp(data.now)} · `/incident list` in any channel · "
        "`/incident stats` for MTTA/MTTR"
    )
    # Room for the incidents: the rest, less the footer and a possible "more" line.
    room = HOME_BLOCKS - len(top) - 1
    shown = list(data.incidents) if count <= room else list(data.incidents)[: room - 1]
    blocks = top + [incident_block(i, data.now, data.incidents_channel) for i in shown]
    if len(shown) < count:
        blocks.append(
            _context(
                f"…and {count - len(shown)} more open incidents, less severe or newer: "
                "`/incident list` lists them."
            )
        )
    blocks.append(footer)
    view = View(type="home", blocks=blocks)
    # to_dict() validates the view and every block against Slack's limits.
    return view.to_dict()
