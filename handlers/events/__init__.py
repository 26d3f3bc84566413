"""Events API: messages and reactions in incident channels become timeline rows."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.conversation import NewMessage
from bot.services import Services
from handlers.after_ack import after_ack
from handlers.events import home

_PUSHPIN = "pushpin"
_IGNORED_SUBTYPES = frozenset(
    {
        "bot_message",
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "pinned_item",
        "unpinned_item",
        "bot_add",
        "bot_remove",
    }
)
_HUMAN_SUBTYPES = (None, "thread_broadcast", "file_share", "me_message")


def register(app: AsyncApp, services: Services) -> None:
    home.register(app, services)
    log = services.conversation

    @app.event("message")
    @after_ack
    async def on_message(ack: AsyncAck, body: dict, event: dict) -> None:
        await ack()  # Slack needs only the 200; the change is queued after it
        subtype = event.get("subtype")
        event_id = body.get("event_id")
        channel = event.get("channel", "")
        if subtype == "message_changed":
            message = event.get("message") or {}
            if not message.get("bot_id"):
                await log.edit(
                    event_id,
                    channel,
                    message.get("ts", ""),
                    message.get("text", ""),
                    message.get("user"),
                    message.get("thread_ts"),
                )
        elif subtype == "message_deleted":
            await log.delete(event_id, channel, event.get("deleted_ts", ""))
        elif subtype in _HUMAN_SUBTYPES and subtype not in _IGNORED_SUBTYPES:
            if event.get("bot_id") or not event.get("user"):
                return
            await log.record(
                NewMessage(
                    event_id,
                    channel,
                    event["ts"],
                    event["user"],
                    event.get("text", ""),
                    event.get("thread_ts"),
                )
            )

    @app.event("reaction_added")
    @after_ack
    async def on_reaction_added(ack: AsyncAck, body: dict, event: dict) -> None:
        await ack()
        await _pin(body, event, True)

    @app.event("reaction_removed")
    @after_ack
    async def on_reaction_removed(ack: AsyncAck, body: dict, event: dict) -> None:
        await ack()
        await _pin(body, event, False)

    async def _pin(body: dict, event: dict, key: bool) -> None:
        item = event.get("item") or {}
        if event.get("reaction") != _PUSHPIN or item.get("type") != "message":
            return
        await log.mark_key(body.get("event_id"), item.get("channel", ""), item.get("ts", ""), key)
