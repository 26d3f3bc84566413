"""The HTTP edge: the Bolt app behind POST /slack/events, GET /healthz, and how the bot runs
(HTTP on $PORT, or Socket Mode when SLACK_APP_TOKEN is set)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from dataclasses import dataclass

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.clock import Clock
from bot.services import Services, open_services
from bot.settings import Settings
from handlers import after_ack, collector
from handlers.alerts import ALERTS_PATH, alert_webhook
from handlers.auth import BotIdentity

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
# Slack sends small JSON/form bodies; anything far larger is not Slack.
MAX_BODY = 1024 * 1024
# Seconds a thread may hold the GIL while another waits (Python's default: 0.005). The
# database driver runs each statement in a thread of its own; handing it a statement and
# taking its answer back made the event loop wait for the GIL up to 5 ms each time, which was
# a third of the loop's time under load (py-spy). Acknowledgements wait on that loop.
SWITCH_INTERVAL = 0.0005


def build_bolt_app(services: Services, identity: BotIdentity) -> AsyncApp:
    settings = services.settings
    secret = settings.slack_signing_secret
    app = AsyncApp(
        # Token-less: the token comes from `authorize`; listeners' clients share this base URL.
        client=AsyncWebClient(
            base_url=settings.slack_api_url,
            timeout=10,
            retry_handlers=[],
            session=services.client.session,  # the services' session, closed with them
        ),
        authorize=identity.authorize_function(),
        signing_secret=secret.get_secret_value() if secret else "",
        request_verification_enabled=not settings.socket_mode,
        # Listeners answer at ack() and run their work after it themselves (handlers.after_ack);
        # Bolt's own way polls every 10 ms for the ack and leaves the work unbounded.
        process_before_response=True,
        logger=logging.getLogger("bolt"),
    )

    @app.error
    async def on_error(error: Exception, body: dict) -> None:
        log.error("unhandled error in a listener (%s): %r", body.get("type"), error)

    handlers.register(app, services)
    # Slack writes from the outbox share this loop with the acknowledgements: they hold back
    # while requests wait for their answer, as the listeners' work does.
    services.outbox.gate = after_ack.yield_to_answers
    return app


def build_web_app(services: Services, bolt: AsyncApp | None) -> web.Application:
    """The HTTP app: /slack/events (HTTP mode only; None in Socket Mode) and /healthz."""

    async def slack_events(request: web.Request) -> web.Response:
        assert bolt is not None
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_request: web.Request) -> web.Response:
        try:
            await services.db.ping()
            counts = await services.outbox.counts()
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
            log.warning("health check: database unreachable: %s", type(exc).__name__)
            return web.json_response({"status": "error", "database": "unreachable"}, status=503)
        return web.json_response(
            {
                "status": "ok",
                "database": "ok",
                "outbox_pending": counts.get("pending", 0) + counts.get("sending", 0),
                "outbox_failed": counts.get("failed", 0),
            }
        )

    web_app = web.Application(client_max_size=MAX_BODY)
    if bolt is not None:
        web_app.router.add_post(EVENTS_PATH, slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_post(ALERTS_PATH, alert_webhook(services))
    return web_app


@dataclass
class Running:
    services: Services
    bolt: AsyncApp
    runner: web.AppRunner
    port: int

    stopped: bool = False

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking requests, let the work they started finish (within `grace` seconds),
        then stop the workers; whatever is still queued stays in the outbox."""
        if self.stopped:
            return
        self.stopped = True
        await self.runner.cleanup()
        await finish_in_flight(grace)
        await self.services.close()


async def finish_in_flight(grace: float) -> None:
    """Wait for the work listeners do after their acks (handlers.after_ack)."""
    unfinished = await after_ack.drain(grace)
    if unfinished:
        log.warning("stopping with the work of %d answered request(s) unfinished", unfinished)


async def start_http(
    settings: Settings,
    clock: Clock | None = None,
    *,
    host: str = "0.0.0.0",  # noqa: S104 - a web dyno must listen on every interface
    port: int | None = None,
    outbox_poll: float = 0.5,
) -> Running:
    """Start the bot's HTTP server; port=0 picks a free port (tests)."""
    services = await open_services(settings, clock, outbox_poll=outbox_poll)
    identity = BotIdentity(services.client)
    # Asking Slack who the bot is (a Web API round trip) goes on while the server starts;
    # a request arriving before the answer waits for it. A rejected token still stops the bot.
    checking = asyncio.create_task(identity.warm())
    runner: web.AppRunner | None = None
    try:
        bolt = build_bolt_app(services, identity)
        runner = web.AppRunner(build_web_app(services, bolt), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, settings.port if port is None else port)
        await site.start()
        await checking
    except BaseException:
        checking.cancel()
        with contextlib.suppress(BaseException):
            await checking  # its own failure is not the one to report, if it failed too
        if runner is not None:
            await runner.cleanup()
        await services.close()
        raise
    bound = runner.addresses[0][1] if runner.addresses else settings.port
    return Running(services, bolt, runner, bound)


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":  # no loop signal handlers there; Ctrl-C still stops it
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        services = await open_services(settings)
        identity = BotIdentity(services.client)
        try:
            await identity.warm()
        except BaseException:
            await services.close()
            raise
        bolt = build_bolt_app(services, identity)
        assert settings.slack_app_token is not None
        handler = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
        await handler.connect_async()
        # Platforms that run a `web` process expect the port bound; /healthz answers there.
        runner = web.AppRunner(build_web_app(services, None), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", settings.port).start()  # noqa: S104
        log.info("connected to Slack over Socket Mode; /healthz on port %s", settings.port)
        gc.freeze()  # see below
        collecting = asyncio.create_task(collector.collect_when_idle(after_ack.since_request))
        await stop.wait()
        collecting.cancel()
        await handler.close_async()
        await runner.cleanup()
        await finish_in_flight(10.0)
        await services.close()
        return
    running = await start_http(settings)
    log.info("listening on port %s (POST %s, GET /healthz)", running.port, EVENTS_PATH)
    # What start-up built (modules, ORM mappings, Bolt, runbooks, templates) lives as long as
    # the process: out of the collector's full passes, which otherwise walk those ~130,000
    # objects with the event loop stopped (70 ms each, measured) every so often under load.
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)
    # Full collections while no requests come in (handlers/collector.py).
    collecting = asyncio.create_task(collector.collect_when_idle(after_ack.since_request))
    await stop.wait()
    log.info("stopping")
    collecting.cancel()
    await running.stop()
