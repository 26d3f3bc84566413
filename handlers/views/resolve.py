"""The resolve form's submission."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import IncidentError
from bot.incidents import Resolution
from bot.services import Services
from bot.ui import ids, messages
from handlers.replies import guarded, whisper
from handlers.views.state import metadata, value


def _answers(view: dict) -> Resolution:
    return Resolution(
        root_cause=value(view, ids.ROOT_CAUSE) or "",
        impact_users=value(view, ids.IMPACT_USERS),
        impact_revenue=value(view, ids.IMPACT_REVENUE),
        went_well=value(view, ids.WENT_WELL),
        to_improve=value(view, ids.TO_IMPROVE),
        action_items=value(view, ids.ACTION_ITEMS),
    )


def register(app: AsyncApp, services: Services) -> None:
    @app.view(ids.REVIEW_VIEW)
    @guarded
    async def review_submitted(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        view = body["view"]
        if not value(view, ids.ROOT_CAUSE):
            await ack(
                response_action="errors", errors={ids.ROOT_CAUSE: "The root cause is required."}
            )
            return
        await ack()
        await services.incidents.edit_review(
            int(metadata(view)["incident"]), _answers(view), body["user"]["id"]
        )

    @app.view(ids.RESOLVE_VIEW)
    @guarded
    async def resolve_submitted(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        view = body["view"]
        root_cause = value(view, ids.ROOT_CAUSE)
        if not root_cause:
            await ack(
                response_action="errors", errors={ids.ROOT_CAUSE: "The root cause is required."}
            )
            return
        await ack()
        incident_id = int(metadata(view)["incident"])
        user = body["user"]["id"]
        resolution = _answers(view)
        try:
            incident = await services.incidents.resolve(incident_id, resolution, user)
        except IncidentError as exc:
            await whisper(client, None, user, messages.error_message(exc.message, None))
            return
        await whisper(
            client,
            incident.channel_id,
            user,
            messages.info_message(
                f"{messages.incident_ref(incident)} resolved. The postmortem draft is being posted."
            ),
        )
