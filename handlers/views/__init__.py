"""Modal submissions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers.views import break_glass, declare, resolve, step_inputs, update


def register(app: AsyncApp, services: Services) -> None:
    declare.register(app, services)
    resolve.register(app, services)
    step_inputs.register(app, services)
    break_glass.register(app, services)
    update.register(app, services)
