"""Modal submissions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers.views import declare, resolve


def register(app: AsyncApp, services: Services) -> None:
    declare.register(app, services)
    resolve.register(app, services)
