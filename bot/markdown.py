"""Turning Slack mrkdwn (as stored in the timeline) into plain Markdown for documents."""

from __future__ import annotations

import re

# Slack's <…> forms in one pattern, so a long timeline is scanned once per row, not four times:
# <@U…|label> user, <#C…|label> channel, <https://…|label> link, <!here|label> special mention.
_ANGLE = re.compile(
    r"<(?:@([UW][A-Z0-9]+)|#([CG][A-Z0-9]+)|(https?://[^|>]+)|!([a-z]+)(?:\^[^|>]*)?)"
    r"(?:\|([^>]*))?>"
)
# *bold* not inside a word or a run of stars. The star comes first and the look-behind after it,
# so the regex engine can jump from star to star (a leading look-behind is tried at every
# character: 4x slower over a long timeline).
_BOLD = re.compile(r"\*(?<![\w*]\*)([^*\n]+)\*(?![\w*])")
_EMOJI_FLAGS = {":pushpin:": "📌", ":white_check_mark:": "✅", ":memo:": "📝", ":warning:": "⚠️"}


def defang(text: str) -> str:
    """Neutralise <!channel>, <!here>, <!everyone> and group pings in text we repost."""
    return text.replace("<!", "&lt;!")


def _angle(match: re.Match[str]) -> str:
    user, channel, url, special, label = match.groups()
    if url:
        return f"[{label}]({url})" if label else url
    if user:
        return "@" + (label or user)
    if channel:
        return "#" + (label or channel)
    return "@" + (label or special)


def _bold(match: re.Match[str]) -> str:
    return "**" + match.group(1) + "**"  # Slack's *bold* is Markdown's **bold**


def slack_to_markdown(text: str) -> str:
    # Each step only when its mark is there: most rows of a long timeline have few or none.
    if "<" in text:
        text = _ANGLE.sub(_angle, text)
    if "*" in text:
        text = _BOLD.sub(_bold, text)
    if ":" in text:
        for code, emoji in _EMOJI_FLAGS.items():
            text = text.replace(code, emoji)
    if "&" in text:
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text


def table_cell(text: str, *, converted: bool = False) -> str:
    """Markdown table cells cannot hold pipes or newlines."""
    markdown = text if converted else slack_to_markdown(text)
    return markdown.replace("|", "\\|").replace("\n", " ").strip()
