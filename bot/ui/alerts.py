"""The alert card in #incidents: what fired, the suggested severity and runbook, how often,
and Declare/Dismiss while nobody has decided."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.severity import Severity
from bot.text import safe, truncate
from bot.ui import format as fmt
from bot.ui import ids
from bot.ui.messages import Message
from storage.models import Alert

SOURCE_NAMES = {
    "generic": "Monitoring",
    "sentry": "Sentry",
    "uptimerobot": "UptimeRobot",
    "health-watch": "Health watch",
}


def source_name(source: str) -> str:
    return SOURCE_NAMES.get(source, source)


def _seen(alert: Alert) -> str:
    if alert.count == 1:
        return f"at {fmt.hhmm(alert.first_at)}"
    return f"{alert.count} times, {fmt.hhmm(alert.first_at)}–{fmt.hhmm(alert.last_at)}"


def card(alert: Alert, runbook_title: str | None) -> Message:
    severity = Severity(alert.severity)
    name = source_name(alert.source)
    headline = f"{severity.emoji} *{name} alert:* {safe(alert.title, 300)}"
    fields = [
        f"*Suggested:* {severity.label}",
        f"*Runbook:* {f'{runbook_title} (`{alert.runbook_id}`)' if runbook_title else '—'}",
        f"*Seen:* {_seen(alert)}",
    ]
    if alert.service:
        fields.append(f"*Service:* {safe(alert.service, 100)}")
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=headline)),
        SectionBlock(fields=[MarkdownTextObject(text=f) for f in fields]),
    ]
    extra = []
    if alert.details:
        extra.append(safe(alert.details, 1500))
    if alert.link:
        extra.append(f"<{alert.link}|Open in {name}>")
    if extra:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(extra))))
    status = _status(alert)
    if status:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=status)]))
    if alert.state == "open":
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text=f"Declare {severity.value}",
                        action_id=ids.ALERT_DECLARE,
                        value=str(alert.id),
                        style="danger" if severity is Severity.P1 else "primary",
                    ),
                    ButtonElement(text="Dismiss", action_id=ids.ALERT_DISMISS, value=str(alert.id)),
                ]
            )
        )
    text = f"{name} alert ({severity.value}): {safe(alert.title, 300)}"
    if status:
        text += f" — {status}"
    return truncate(text, 3000), [b.to_dict() for b in blocks]


def _status(alert: Alert) -> str:
    parts = []
    when = f" at {fmt.hhmm(alert.decided_at)}" if alert.decided_at else ""
    if alert.state == "declared":
        parts.append(
            f":rotating_light: Declared as *INC-{alert.incident_id}* by "
            f"{fmt.user(alert.decided_by)}{when}"
        )
    elif alert.state == "dismissed":
        parts.append(f":no_bell: Dismissed by {fmt.user(alert.decided_by)}{when}")
    if alert.recovered_at:
        parts.append(f":white_check_mark: Recovered at {fmt.hhmm(alert.recovered_at)}")
    return " · ".join(parts)


def note(text: str) -> list[dict[str, object]]:
    return [SectionBlock(text=MarkdownTextObject(text=truncate(text, 3000))).to_dict()]


def description(alert: Alert) -> str:
    """The declare form's description, prefilled from the alert."""
    lines = [f"From {source_name(alert.source)} alert #{alert.id} (seen {_seen(alert)})."]
    if alert.service:
        lines.append(f"Service: {alert.service}")
    if alert.details:
        lines.append(alert.details)
    if alert.link:
        lines.append(alert.link)
    return truncate("\n".join(lines), 3000)


def timeline_text(alert: Alert) -> str:
    """How an alert that joined an open incident reads on its timeline."""
    link = f" <{alert.link}|open in {source_name(alert.source)}>" if alert.link else ""
    details = f" — {safe(alert.details, 500)}" if alert.details else ""
    return (
        f":bell: {source_name(alert.source)} alert #{alert.id} "
        f"({alert.severity}): {safe(alert.title, 300)}{details}{link}"
    )
