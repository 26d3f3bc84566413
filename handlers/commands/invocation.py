"""What a subcommand handler gets: the parsed command and the ways to answer."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.async_app import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import Command, usage_of
from bot.services import Services
from bot.ui import messages
from handlers.replies import reply
from storage.models import Incident


@dataclass(frozen=True)
class Invocation:
    services: Services
    command: Command
    user_id: str
    channel_id: str
    trigger_id: str
    respond: AsyncRespond
    client: AsyncWebClient

    async def incident(self) -> Incident:
        """The incident this command acts on (named, or this channel's)."""
        return await self.services.incidents.find(
            self.command.incident_ref, self.channel_id, usage_of(self.command.name)
        )

    async def answer(self, message: messages.Message) -> None:
        await reply(self.respond, message)
