"""Small formatting helpers shared by the message builders."""

from __future__ import annotations

from datetime import datetime, timedelta


def hhmm(at: datetime) -> str:
    return at.strftime("%H:%M UTC")


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def user(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "nobody"


def channel(channel_id: str | None) -> str:
    return f"<#{channel_id}>" if channel_id else "—"
