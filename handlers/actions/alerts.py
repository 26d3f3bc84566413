"""The alert card's buttons: Declare (opens the declare form prefilled from the alert) and
Dismiss (recorded with who and when; the card says so)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.severity import Severity
from bot.ui import alerts as alerts_ui
from bot.ui import ids, modals
from handlers.replies import guarded


def register(app: AsyncApp, services: Services) -> None:
    @app.action(ids.ALERT_DECLARE)
    @guarded
    async def declare(
        ack: AsyncAck, body: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        alert = await services.alerts.for_declare(int(body["actions"][0]["value"]))
        await client.views_open(
            trigger_id=body["trigger_id"],
            view=modals.declare_modal(
                title=alert.title,
                severity=Severity(alert.severity),
                runbooks=[(r.id, r.title) for r in services.runbooks],
                runbook=alert.runbook_id,
                description=alerts_ui.description(alert),
                channel_id=(body.get("channel") or {}).get("id"),
                alert_id=alert.id,
            ),
        )

    @app.action(ids.ALERT_DISMISS)
    @guarded
    async def dismiss(ack: AsyncAck, body: dict, respond: AsyncRespond) -> None:
        await ack()
        await services.alerts.dismiss(int(body["actions"][0]["value"]), body["user"]["id"])
