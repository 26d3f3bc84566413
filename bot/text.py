"""Making user text safe to post: escaping and Slack's length limits."""

from __future__ import annotations

import re

_TRUNCATION_NOTE = "… (truncated)"


def escape(text: str) -> str:
    """Escape &, < and > so user text cannot form mentions like <!channel> or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters, saying so, instead of having Slack reject it."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(_TRUNCATION_NOTE))] + _TRUNCATION_NOTE


def safe(text: str, limit: int) -> str:
    """Escape, then truncate (escaping can lengthen the text)."""
    return truncate(escape(text), limit)


_WS = re.compile(r"\s+")


def one_line(text: str) -> str:
    return _WS.sub(" ", text).strip()
