"""Posting monitoring webhooks to the bot, and finding its alert cards in #incidents."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select

from storage.models import Alert
from tests.conftest import INCIDENTS

ALERT_SECRET = "alert-webhook-secret-4c8e1f27"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sign(body: bytes, secret: str = ALERT_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_alert(
    bot: Any,
    source: str,
    body: bytes | dict[str, Any],
    *,
    auth: str = "signature",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST /hooks/alerts/<source>; auth: "signature" (HMAC), "bearer", or "none"."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    all_headers = {"Content-Type": content_type}
    if auth == "signature":
        all_headers["X-Alert-Signature"] = sign(raw)
    elif auth == "bearer":
        all_headers["Authorization"] = f"Bearer {ALERT_SECRET}"
    all_headers.update(headers or {})
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(f"{bot.url}/hooks/alerts/{source}", content=raw, headers=all_headers)


async def alerts(bot: Any) -> list[Alert]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(Alert).order_by(col(Alert.id)))).all())


def cards(slack: Any) -> list[Any]:
    """Alert cards posted to #incidents (chat.postMessage calls)."""
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.args.get("channel") == INCIDENTS
        and not c.args.get("thread_ts")
        and " alert (" in c.args.get("text", "")
        and not c.failed
    ]


def card_now(slack: Any, ts: str) -> dict[str, Any]:
    """The card as it reads in Slack now (after edits)."""
    message = slack.channels[INCIDENTS].message(ts)
    assert message is not None, f"no message {ts} in #incidents"
    return message
