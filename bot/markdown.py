"""Turning Slack mrkdwn (as stored in the timeline) into plain Markdown for documents."""

from __future__ import annotations

import re

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!([a-z]+)(?:\^[^|>]*)?(?:\|([^>]*))?>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_EMOJI_FLAGS = {":pushpin:": "📌", ":white_check_mark:": "✅", ":memo:": "📝", ":warning:": "⚠️"}


def defang(text: str) -> str:
    """Neutralise <!channel>, <!here>, <!everyone> and group pings in text we repost."""
    return text.replace("<!", "&lt;!")


def slack_to_markdown(text: str) -> str:
    if not any(mark in text for mark in "<&*:"):
        return text  # plain words, the common case in a long timeline: nothing to convert
    text = _USER.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _LINK.sub(lambda m: f"[{m.group(2)}]({m.group(1)})" if m.group(2) else m.group(1), text)
    text = _SPECIAL.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    text = _BOLD.sub(r"**\1**", text)  # Slack's *bold* is Markdown's **bold**
    for code, emoji in _EMOJI_FLAGS.items():
        text = text.replace(code, emoji)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text


def table_cell(text: str, *, converted: bool = False) -> str:
    """Markdown table cells cannot hold pipes or newlines."""
    markdown = text if converted else slack_to_markdown(text)
    return markdown.replace("|", "\\|").replace("\n", " ").strip()
