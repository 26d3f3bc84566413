"""/incident stats: the insights of a period next to the period before, as one message."""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.insights import Insights, PeriodStats, Spread
from bot.severity import Severity
from bot.ui.messages import Message

PERIOD_NAMES = {"30d": "30 days", "90d": "90 days", "1y": "year"}


def span(seconds: float | None) -> str:
    """A duration for people: 45s, 2m 30s, 1h 40m, 2d 3h; — when there is none."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    for big, big_unit, small, small_unit in (
        (86400, "d", 3600, "h"),
        (3600, "h", 60, "m"),
        (60, "m", 1, "s"),
    ):
        if total >= big:
            whole, rest = divmod(total, big)
            part = rest // small
            return f"{whole}{big_unit} {part}{small_unit}" if part else f"{whole}{big_unit}"
    return f"{total}s"  # pragma: no cover - every positive total is caught above


def _change(now: int, before: int) -> str:
    if now == before:
        return "same as before"
    return f"{'+' if now > before else '−'}{abs(now - before)} on the period before ({before})"


def _spread(name: str, now: Spread, before: Spread) -> str:
    return (
        f"{name} median *{span(now.median)}* · p90 {span(now.p90)} "
        f"(before: {span(before.median)} · {span(before.p90)})"
    )


def _severity_lines(current: PeriodStats, previous: PeriodStats) -> str:
    lines = []
    for severity in Severity:
        now, before = current.by_severity[severity], previous.by_severity[severity]
        if not now.count and not before.count:
            continue
        lines.append(
            f"{severity.emoji} *{severity.label}*: {now.count} ({_change(now.count, before.count)})"
            f"\n      {_spread('MTTA', now.mtta, before.mtta)}"
            f"\n      {_spread('MTTR', now.mttr, before.mttr)}"
        )
    return "\n".join(lines) or "_No incidents in either period._"


def _ranked(items: list[tuple[str, int]], unit: str) -> str:
    if not items:
        return "—"
    return ", ".join(f"{name} ({count} {unit})" for name, count in items)


def stats_message(insights: Insights, step_labels: Mapping[tuple[str, str], str]) -> Message:
    """step_labels: (runbook id, step id) → the button's label, for the actions run most."""
    current, previous = insights.current, insights.previous
    name = PERIOD_NAMES[insights.period]
    pm, pm_before = current.postmortems, previous.postmortems
    actions = [
        (step_labels.get(key, f"{key[0]}/{key[1]}"), count) for key, count in current.actions
    ]
    runbooks = [(f"`{rid}`", count) for rid, count in current.runbooks]
    blocks: list[Block] = [
        HeaderBlock(text=f"Incidents in the last {name}"),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{current.count} incidents* ({_change(current.count, previous.count)})\n"
                f"{_spread('MTTA', current.mtta, previous.mtta)}\n"
                f"{_spread('MTTR', current.mttr, previous.mttr)}"
            )
        ),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=_severity_lines(current, previous)[:3000])),
        DividerBlock(),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*Postmortems (P1/P2):* {pm.on_time} on time, {pm.late} late, "
                f"{pm.pending} not yet due (before: {pm_before.on_time} on time, "
                f"{pm_before.late} late)\n"
                f"*Runbooks used most:* {_ranked(runbooks, 'incidents')}\n"
                f"*Actions run most:* {_ranked(actions, 'runs')}"
            )
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"{current.start:%Y-%m-%d} to {current.end:%Y-%m-%d %H:%M} UTC, against "
                    f"{previous.start:%Y-%m-%d} to {previous.end:%Y-%m-%d}. MTTA: declare → first "
                    "acknowledgement; MTTR: declare → resolve; p90 by nearest rank."
                )
            ]
        ),
    ]
    text = f"{current.count} incidents in the last {name} (before: {previous.count})"
    return text, [b.to_dict() for b in blocks]
