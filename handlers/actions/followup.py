"""Buttons of pages and reminders: Acknowledge, Post status update, I posted it."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import Conflict
from bot.services import Services
from bot.severity import Status
from bot.ui import followup as followup_ui
from bot.ui import ids, messages
from handlers.replies import guarded, reply


def register(app: AsyncApp, services: Services) -> None:
    followup = services.followup

    @app.action(ids.PAGE_ACK)
    @guarded
    async def acknowledge(ack: AsyncAck, body: dict, respond: AsyncRespond) -> None:
        await ack()
        incident = await followup.acknowledge(int(body["actions"][0]["value"]), body["user"]["id"])
        await reply(
            respond,
            messages.info_message(
                f"You acknowledged {messages.incident_ref(incident)}; escalation is stopped."
            ),
        )

    @app.action(ids.OPEN_UPDATE)
    @guarded
    async def open_update(
        ack: AsyncAck, body: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        incident = await services.incidents.get(int(body["actions"][0]["value"]))
        if incident.status == Status.RESOLVED.value:
            raise Conflict(f"{messages.incident_ref(incident)} is resolved.")
        await client.views_open(
            trigger_id=body["trigger_id"],
            view=followup_ui.update_modal(incident, services.documents.status_update(incident)),
        )

    @app.action(ids.STATUS_PAGE_POSTED)
    @guarded
    async def status_page_posted(ack: AsyncAck, body: dict, respond: AsyncRespond) -> None:
        await ack()
        incident = await followup.status_page_posted(
            int(body["actions"][0]["value"]), body["user"]["id"]
        )
        await reply(
            respond,
            messages.info_message(
                f"Recorded for {messages.incident_ref(incident)}; no more status-page reminders."
            ),
        )
