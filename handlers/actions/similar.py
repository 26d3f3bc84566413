"""The two buttons of "an open incident sounds the same": join it, or declare anyway."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.ui import ids, messages
from handlers.declaring import declare_or_ask, from_button_value
from handlers.replies import guarded, reply


def register(app: AsyncApp, services: Services) -> None:
    @app.action(ids.SIMILAR_JOIN)
    @guarded
    async def join_existing(
        ack: AsyncAck, body: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        user = body["user"]["id"]
        incident = await services.incidents.get(int(body["actions"][0]["value"]))
        ref = messages.incident_ref(incident)
        if incident.channel_id:
            try:
                await client.conversations_invite(channel=incident.channel_id, users=[user])
            except SlackApiError as exc:
                if exc.response.get("error") != "already_in_channel":
                    raise
            text = f"You joined {ref}: <#{incident.channel_id}>."
        else:
            text = f"{ref} lives as a thread in <#{services.settings.incidents_channel}>."
        await reply(respond, messages.info_message(text), replace=True)

    @app.action(ids.SIMILAR_DECLARE)
    @guarded
    async def declare_anyway(ack: AsyncAck, body: dict, respond: AsyncRespond) -> None:
        await ack()
        declaration = from_button_value(body["actions"][0]["value"], body["user"]["id"])
        message = await declare_or_ask(services, declaration, check_similar=False)
        await reply(respond, message, replace=True)
