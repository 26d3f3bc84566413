"""POST /hooks/alerts/<source>: monitoring webhooks. Not a Slack request (no Bolt, no Slack
signature): authenticated with ALERT_WEBHOOK_SECRET, parsed by bot.alert_sources, handled by
bot.alerts. Answers: 202 with what happened; 400, 401 or 404 with a one-line reason."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot import alert_sources, webhook_auth
from bot.alert_sources import AlertPayloadError
from bot.services import Services

log = logging.getLogger(__name__)
ALERTS_PATH = "/hooks/alerts/{source}"
MAX_ALERT_BODY = 64 * 1024


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def alert_webhook(services: Services) -> Callable[[web.Request], Awaitable[web.Response]]:
    secret = services.settings.alert_webhook_secret

    async def receive(request: web.Request) -> web.Response:
        source = request.match_info["source"]
        if secret is None:
            return _error(404, "alert webhooks are off: ALERT_WEBHOOK_SECRET is not set")
        if source not in alert_sources.SOURCES:
            return _error(404, f"unknown alert source; use {', '.join(alert_sources.SOURCES)}")
        too_big = f"the body is larger than {MAX_ALERT_BODY // 1024} KiB"
        if (request.content_length or 0) > MAX_ALERT_BODY:
            return _error(400, too_big)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(400, too_big)
        if len(body) > MAX_ALERT_BODY:
            return _error(400, too_big)
        if not webhook_auth.authorized(secret.get_secret_value(), body, request.headers):
            log.warning("alert webhook (%s): refused, bad or missing credentials", source)
            return _error(401, "unauthorized: sign the body or send the bearer token")
        if not body.strip():
            return _error(400, "the body is empty")
        try:
            signal = alert_sources.parse(source, body, request.content_type, services.runbooks)
        except AlertPayloadError as exc:
            log.info("alert webhook (%s): refused: %s", source, exc)
            return _error(400, str(exc))
        received = await services.alerts.receive(signal)
        return web.json_response(
            {
                "alert": received.alert_id,
                "outcome": received.outcome,
                "incident": received.incident_id,
            },
            status=202,
        )

    return receive
