"""Break glass: the requester of a P1 action runs it without approval, giving a reason."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.ui import ids
from handlers.replies import guarded
from handlers.views.state import value


def register(app: AsyncApp, services: Services) -> None:
    @app.view(ids.BREAK_GLASS_VIEW)
    @guarded
    async def break_glass_submitted(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        view = body["view"]
        reason = value(view, ids.BREAK_GLASS_REASON)
        if not reason:
            await ack(
                response_action="errors",
                errors={ids.BREAK_GLASS_REASON: "Say why this cannot wait."},
            )
            return
        await ack()
        run_id = int(json.loads(view["private_metadata"])["r"])
        await services.runs.break_glass(run_id, body["user"]["id"], reason)
