"""Binding a fake's aiohttp app to 127.0.0.1, shared by the fakes."""

from __future__ import annotations

from aiohttp import web


async def bind(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving `app`; returns the runner and the port (the OS's choice for port 0, kept by
    the fake so its URL stays valid across stop and start)."""
    # A short shutdown timeout: stopping must not wait for a handler sleeping in an injected
    # delay, and makes an injected outage abrupt, as a real one is.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1]) if port == 0 else port
