"""The declare form's submission."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import MAX_TITLE
from bot.incidents import Declaration
from bot.services import Services
from bot.severity import Severity
from bot.ui import ids
from handlers.declaring import declare_or_ask
from handlers.replies import guarded, whisper
from handlers.views.state import checked, metadata, value


def register(app: AsyncApp, services: Services) -> None:
    @app.view(ids.DECLARE_VIEW)
    @guarded
    async def declare_submitted(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        view = body["view"]
        title = value(view, ids.TITLE) or ""
        severity = Severity.parse(value(view, ids.SEVERITY) or "")
        errors = {}
        if not title:
            errors[ids.TITLE] = "Say what is happening."
        elif len(title) > MAX_TITLE:
            errors[ids.TITLE] = f"Keep the title to {MAX_TITLE} characters."
        if severity is None:
            errors[ids.SEVERITY] = "Pick a severity."
        detected = None
        detected_text = value(view, ids.DETECTED_AT)
        if detected_text:
            try:
                detected = datetime.strptime(detected_text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
            except ValueError:
                errors[ids.DETECTED_AT] = "Write it as YYYY-MM-DD HH:MM (UTC)."
            else:
                if detected > services.clock.now():
                    errors[ids.DETECTED_AT] = "That is in the future."
        runbook = value(view, ids.RUNBOOK)
        if runbook and not services.incidents.known_runbook(runbook):
            errors[ids.RUNBOOK] = "Unknown runbook."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        user = body["user"]["id"]
        alert = metadata(view).get("alert")
        declaration = Declaration(
            title=title,
            severity=severity,  # type: ignore[arg-type]
            declared_by=user,
            description=value(view, ids.DESCRIPTION),
            runbook_id=runbook,
            private="private" in checked(view, ids.PRIVATE),
            detected_at=detected,
            alert_id=alert if isinstance(alert, int) else None,
        )
        message = await declare_or_ask(services, declaration)
        await whisper(client, metadata(view).get("channel"), user, message)
