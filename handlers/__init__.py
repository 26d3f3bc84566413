"""Slack edges: parse commands, actions, views and events, call bot/, render the answer."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers import actions, commands, events, views


def register(app: AsyncApp, services: Services) -> None:
    # Bolt tries listeners in this order, building every argument a listener could take for
    # each one it tries: the busiest requests (commands, then events) come first.
    commands.register(app, services)
    events.register(app, services)
    views.register(app, services)
    actions.register(app, services)
