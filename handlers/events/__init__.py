"""Events API: messages and reactions in incident channels become timeline rows."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.dedup import first_delivery
from bot.services import Services

log = logging.getLogger(__name__)
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


def register(app: AsyncApp, services: Services) -> None:
    incidents = services.incidents

    async def once(body: dict) -> bool:
        if await first_delivery(services.db, services.clock, body.get("event_id")):
            return True
        log.info("event %s already processed; ignoring the redelivery", body.get("event_id"))
        return False

    @app.event("message")
    async def on_message(body: dict, event: dict) -> None:
        subtype = event.get("subtype")
        if subtype in _IGNORED_SUBTYPES or not await once(body):
            return
        channel = event.get("channel", "")
        if subtype == "message_changed":
            message = event.get("message") or {}
            if not message.get("bot_id"):
                await incidents.edit_message(
                    channel, message.get("ts", ""), message.get("text", "")
                )
        elif subtype == "message_deleted":
            await incidents.delete_message(channel, event.get("deleted_ts", ""))
        elif subtype in (None, "thread_broadcast", "file_share", "me_message"):
            if event.get("bot_id") or not event.get("user"):
                return
            await incidents.record_message(
                channel, event["ts"], event["user"], event.get("text", ""), event.get("thread_ts")
            )

    @app.event("reaction_added")
    async def on_reaction_added(body: dict, event: dict) -> None:
        await _pin(body, event, True)

    @app.event("reaction_removed")
    async def on_reaction_removed(body: dict, event: dict) -> None:
        await _pin(body, event, False)

    async def _pin(body: dict, event: dict, key: bool) -> None:
        item = event.get("item") or {}
        if event.get("reaction") != _PUSHPIN or item.get("type") != "message":
            return
        if await once(body):
            await incidents.mark_key(item.get("channel", ""), item.get("ts", ""), key)
