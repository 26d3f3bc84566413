"""The App Home tab: published when someone opens it; its Declare incident button."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.ui import ids, modals
from handlers.after_ack import after_ack
from handlers.replies import guarded

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_home_opened")
    @after_ack
    async def home_opened(ack: AsyncAck, event: dict) -> None:
        await ack()  # Slack needs only the 200; the view is published after it
        # The Messages tab sends this event too; only the Home tab is ours to draw.
        if event.get("tab") != "home" or not event.get("user"):
            return
        try:
            await services.home.opened(event["user"])
        except Exception:
            log.exception("could not publish the Home tab")

    @app.action(ids.HOME_DECLARE)
    @guarded
    async def declare_from_home(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(
            trigger_id=body["trigger_id"],
            view=modals.declare_modal(runbooks=[(r.id, r.title) for r in services.runbooks]),
        )
