"""Finding and pressing the buttons of the runbook message, as a person in Slack would."""

from __future__ import annotations

from typing import Any

from tests.support.db import drained, until


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every button in the blocks, by its label."""
    found: dict[str, dict[str, Any]] = {}
    for block in blocks:
        elements = block.get("elements", []) if block.get("type") == "actions" else []
        if block.get("accessory", {}).get("type") == "button":
            elements = [block["accessory"]]
        for element in elements:
            if element.get("type") == "button":
                found[element["text"]["text"]] = element
    return found


def runbook_message(bot: Any, channel: str) -> dict[str, Any]:
    messages = [
        m
        for m in bot.slack.channels[channel].messages
        if m.get("text", "").startswith("Runbook for INC")
    ]
    assert messages, "no runbook message in the channel"
    return messages[-1]


def step_section(message: dict[str, Any], label: str) -> str:
    for block in message["blocks"]:
        if block.get("accessory", {}).get("text", {}).get("text") == label:
            return block["text"]["text"]
        if block.get("type") == "section" and f"*{label}*" in block.get("text", {}).get("text", ""):
            return block["text"]["text"]
    raise AssertionError(f"no step {label!r} in the runbook message")


async def press(bot: Any, channel: str, label: str, *, user: str = "UALICE1") -> Any:
    message = runbook_message(bot, channel)
    button = buttons(message["blocks"])[label]
    return await bot.sender.click(
        button["action_id"], button["value"], user=user, channel=channel, message_ts=message["ts"]
    )


def approval_message(bot: Any, channel: str) -> dict[str, Any]:
    found = [
        m
        for m in bot.slack.channels[channel].messages
        if m.get("text", "").startswith(("Approval needed", "Approval decided"))
    ]
    assert found, "no approval request in the channel"
    return found[-1]


async def wait_approval(bot: Any, channel: str, count: int = 1) -> dict[str, Any]:
    async def posted() -> bool:
        return (
            len(
                [
                    m
                    for m in bot.slack.channels[channel].messages
                    if m.get("text", "").startswith("Approval needed")
                ]
            )
            >= count
        )

    await until(posted, what="the approval request")
    await drained(bot)
    return approval_message(bot, channel)


async def decide(bot: Any, channel: str, label: str, user: str) -> Any:
    message = approval_message(bot, channel)
    button = buttons(message["blocks"])[label]
    return await bot.sender.click(
        button["action_id"], button["value"], user=user, channel=channel, message_ts=message["ts"]
    )
