"""The reference the bot is compared with: a bare Bolt AsyncApp on aiohttp whose only listener
acks `/incident` with a text. Served exactly like handlers/server.py serves the bot (same
adapter, same route), so the ratio measures what the bot adds, not a different HTTP stack.

Run alone as `python -m bench.reference --port P --slack-api-url U --signing-secret S`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

EVENTS_PATH = "/slack/events"


def build_reference(slack_api_url: str, signing_secret: str) -> web.Application:
    async def authorize() -> AuthorizeResult:
        # Like handlers/auth.py after warm(): no auth.test round trip before the ack.
        return AuthorizeResult(
            bot_token="xoxb-x",
            bot_user_id="UBOT",
            bot_id="BBOT",
            team_id="T1",
            enterprise_id=None,
        )

    bolt = AsyncApp(
        # Token-less, pointed at the fake: the reference must never reach the real Slack.
        client=AsyncWebClient(base_url=slack_api_url, timeout=10, retry_handlers=[]),
        authorize=authorize,
        signing_secret=signing_secret,
    )

    @bolt.command("/incident")
    async def incident(ack: AsyncAck) -> None:
        await ack(text="ok")

    async def slack_events(request: web.Request) -> web.Response:
        bolt_response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(EVENTS_PATH, slack_events)
    app.router.add_get("/healthz", healthz)
    return app


async def start_reference(
    slack_api_url: str, signing_secret: str, *, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(build_reference(slack_api_url, signing_secret), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, int(runner.addresses[0][1])


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    runner, _port = await start_reference(
        args.slack_api_url, args.signing_secret, host="127.0.0.1", port=args.port
    )
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reference")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slack-api-url", required=True)
    parser.add_argument("--signing-secret", required=True)
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
