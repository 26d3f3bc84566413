"""Who the bot is, asked once: Bolt's default asks Slack (auth.test) on the first request,
which puts a Web API round trip in front of the first acknowledgement after every start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.startup import StartupError

log = logging.getLogger(__name__)


class BotIdentity:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._result: AuthorizeResult | None = None
        self._lock = asyncio.Lock()

    async def warm(self) -> None:
        """Ask Slack at start-up. A rejected token stops the bot; an unreachable Slack does not
        (the outbox keeps everything until Slack answers)."""
        try:
            await self._load()
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked"):
                raise StartupError(f"SLACK_BOT_TOKEN was rejected by Slack: {error}") from None
            log.warning("auth.test failed at start-up (%s); will retry on first request", error)
        except Exception as exc:  # noqa: BLE001 - network trouble: try again later
            log.warning(
                "Slack unreachable at start-up (%s); will retry on first request",
                type(exc).__name__,
            )

    async def _load(self) -> AuthorizeResult:
        async with self._lock:
            if self._result is None:
                response = await self.client.auth_test()
                self._result = AuthorizeResult.from_auth_test_response(
                    bot_token=self.client.token, auth_test_response=response
                )
                log.info(
                    "running as bot user %s in team %s",
                    response.get("user_id"),
                    response.get("team_id"),
                )
            return self._result

    def authorize_function(self) -> Callable[[], Awaitable[AuthorizeResult]]:
        # Bolt passes arguments by the names in the signature, so this takes none.
        async def authorize() -> AuthorizeResult:
            return self._result or await self._load()

        return authorize
