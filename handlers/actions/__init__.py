"""Button clicks."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers.actions import alerts, followup, runbook, similar


def register(app: AsyncApp, services: Services) -> None:
    similar.register(app, services)
    runbook.register(app, services)
    followup.register(app, services)
    alerts.register(app, services)
