"""Incident channel names: inc-<yyyymmdd>-<n>-<slug>, within Slack's rules."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

MAX_CHANNEL_NAME = 80
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


def slugify(title: str) -> str:
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALLOWED.sub("-", folded.lower()).strip("-")


def channel_name(number: int, declared_at: datetime, title: str, attempt: int = 1) -> str:
    """The channel name for an incident; attempt > 1 adds a suffix after `name_taken`."""
    prefix = f"inc-{declared_at:%Y%m%d}-{number}"
    suffix = "" if attempt <= 1 else f"-{attempt}"
    room = MAX_CHANNEL_NAME - len(prefix) - len(suffix) - 1
    slug = slugify(title)[:room].strip("-") if room > 0 else ""
    return f"{prefix}-{slug}{suffix}" if slug else f"{prefix}{suffix}"
