"""The /incident slash command: parse, acknowledge, then hand the subcommand to its module."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import BY_NAME, CommandError, help_text, parse
from bot.services import Services
from bot.ui import messages
from handlers.commands import changes, declare, followup, resolve, runbook, show, stats
from handlers.commands.invocation import Invocation
from handlers.replies import guarded

Handler = Callable[[Invocation], Awaitable[None]]
HANDLERS: dict[str, Handler] = {
    "declare": declare.run,
    "status": changes.status,
    "severity": changes.severity,
    "note": changes.note,
    "commander": changes.commander,
    "resolve": resolve.run,
    "runbook": runbook.run,
    "ack": followup.ack,
    "update": followup.update,
    "clocks": followup.clocks,
    "notified": followup.notified,
    "postmortem": followup.postmortem,
    "reopen": followup.reopen,
    "summary": followup.summary,
    "timeline": show.timeline,
    "list": show.list_open,
    "stats": stats.run,
}


@functools.lru_cache(maxsize=len(BY_NAME) + 1)
def _help(topic: str | None) -> messages.Message:
    """The same few texts every time, built once: help is answered in the ack itself.
    `topic`: a subcommand's name or None (anything else would only crowd the cache)."""
    return messages.help_message(help_text(topic))


def register(app: AsyncApp, services: Services) -> None:
    @app.command("/incident")
    @guarded
    async def incident_command(
        ack: AsyncAck, body: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        try:
            command = parse(body.get("text") or "")
        except CommandError as exc:
            text, blocks = messages.error_message(exc.message, exc.usage or None)
            if exc.usage is None:
                text, blocks = messages.error_message(exc.message + "\n" + help_text(), None)
            await ack(text=text, blocks=blocks, response_type="ephemeral")
            return
        if command.name == "help":
            topic = command.args.get("topic")
            text, blocks = _help(topic if topic in BY_NAME else None)
            await ack(text=text, blocks=blocks, response_type="ephemeral")
            return
        await ack()
        invocation = Invocation(
            services=services,
            command=command,
            user_id=body["user_id"],
            channel_id=body.get("channel_id", ""),
            trigger_id=body.get("trigger_id", ""),
            respond=respond,
            client=client,
        )
        await HANDLERS[command.name](invocation)
