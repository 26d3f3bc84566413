"""Common multi-step flows, done over HTTP like Slack."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from tests.conftest import INCIDENTS
from tests.support.db import drained, incidents


async def declare(bot: Any, text: str, *, user: str = "UALICE1") -> Any:
    """Declare through the slash command and wait for Slack to show it; returns the incident."""
    before = len(await incidents(bot))
    seen = len([r for r in bot.slack.responses if _declared(r)])
    response = await bot.sender.command(f"declare {text}", user=user)
    assert response.status_code == 200
    # This declare's confirmation, not an earlier one's (the work runs after the ack).
    await bot.slack.wait_for_response(count=seen + 1, where=_declared)
    await drained(bot)
    rows = await incidents(bot)
    assert len(rows) == before + 1, "no incident was stored"
    return rows[-1]


async def opened_form(slack: Any, request: Awaitable[Any]) -> dict[str, Any]:
    """Send a request that opens a form and return that form, not one opened before it (the
    form is opened after the request is acknowledged)."""
    before = len(slack.calls_to("views.open"))
    await request
    return (await slack.wait_for("views.open", count=before + 1))[before].args["view"]


def _declared(response: dict[str, Any]) -> bool:
    return "declared" in response.get("text", "")


def posts_to(slack: Any, channel: str, thread_ts: str | None = None) -> list[Any]:
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.args.get("channel") == channel
        and c.args.get("thread_ts") == thread_ts
        and not c.failed
    ]


def thread_posts(slack: Any, root_ts: str) -> list[Any]:
    return posts_to(slack, INCIDENTS, root_ts)


def block_text(blocks: list[dict[str, Any]]) -> str:
    """All the text in a list of blocks, for assertions."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(parts)


def mrkdwn_text(blocks: list[dict[str, Any]]) -> str:
    """Only the mrkdwn text (plain_text is never parsed for mentions by Slack)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(parts)
