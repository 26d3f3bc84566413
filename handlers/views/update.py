"""The status update form's submission."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import MAX_NOTE
from bot.services import Services
from bot.ui import ids
from handlers.replies import guarded
from handlers.views.state import checked, metadata, value


def register(app: AsyncApp, services: Services) -> None:
    @app.view(ids.UPDATE_VIEW)
    @guarded
    async def update_submitted(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        view = body["view"]
        text = value(view, ids.UPDATE_TEXT)
        if not text or len(text) > MAX_NOTE:
            problem = "Write the update." if not text else f"Keep it to {MAX_NOTE} characters."
            await ack(response_action="errors", errors={ids.UPDATE_TEXT: problem})
            return
        await ack()
        await services.followup.post_update(
            int(metadata(view)["i"]),
            text,
            body["user"]["id"],
            broadcast="broadcast" in checked(view, ids.UPDATE_BROADCAST),
        )
