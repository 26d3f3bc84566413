"""Ephemeral replies, and the guard that turns errors into one of them instead of a 404."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import CommandError
from bot.errors import IncidentError
from bot.ui import messages
from handlers.after_ack import split

log = logging.getLogger(__name__)
GENERIC_FAILURE = "Something went wrong on our side; it is logged. Try again in a moment."


async def reply(respond: AsyncRespond, message: messages.Message, *, replace: bool = False) -> None:
    text, blocks = message
    await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=replace)


async def whisper(
    client: AsyncWebClient, channel: str | None, user: str, message: messages.Message
) -> None:
    """An ephemeral message where there is no response_url (after a modal)."""
    text, blocks = message
    if channel:
        try:
            await client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
            return
        except Exception:  # noqa: BLE001 - e.g. the bot is not in that channel: fall back to a DM
            log.info("could not post ephemeral in %s; sending a DM instead", channel)
    await client.chat_postMessage(channel=user, text=text, blocks=blocks)


Listener = Callable[..., Awaitable[None]]


def guarded(listener: Listener) -> Listener:
    """Answer Slack at ack() and run the rest after (handlers.after_ack); report domain errors
    to the user and log the rest, so nothing escapes after ack().

    The listener must take `body` and `respond` or `client`: Bolt passes only the arguments a
    listener names, and the error needs a way back to the person."""

    async def run(kwargs: dict[str, Any]) -> None:
        try:
            await listener(**kwargs)
        except (IncidentError, CommandError) as exc:
            await _tell(kwargs, messages.error_message(exc.message, exc.usage))
        except Exception:
            log.exception("listener %s failed", listener.__name__)
            await _tell(kwargs, messages.error_message(GENERIC_FAILURE, None))

    @functools.wraps(listener)
    async def wrapper(**kwargs: Any) -> None:
        await split(kwargs, run)  # Slack is answered at ack(); the rest runs after

    return wrapper


async def _tell(kwargs: dict[str, Any], message: messages.Message) -> None:
    try:
        respond = kwargs.get("respond")
        body = kwargs.get("body") or {}
        if respond is not None and body.get("response_url"):
            await reply(respond, message)
            return
        client = kwargs.get("client")
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        if client is not None and user:
            await whisper(client, None, user, message)
    except Exception:
        log.exception("could not tell the user about an error")
