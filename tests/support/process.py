"""The bot as a real process (`python -m bot`), for tests of signals and of replicas."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from tests.conftest import BOT_TOKEN, INCIDENTS, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BotProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = int(env["PORT"])
        self.proc: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: nobody reads while it runs, and a full pipe would block it.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process

    async def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - a child process we watch below
            [sys.executable, "-m", "bot"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("the bot did not start")

    async def wait_exit(self, timeout: float = 30) -> int:
        assert self.proc is not None
        for _ in range(int(timeout / 0.05)):
            code = self.proc.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.05)
        raise AssertionError(f"the bot did not exit: {self.stderr_tail()}")

    def stderr_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def process_env(slack_url: str, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a bot process pointed at the fakes; `settings` are added as-is."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "INCIDENT"))}
    return {
        **clean,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "INCIDENTS_CHANNEL": INCIDENTS,
        "DATABASE_URL": database_url,
        "PORT": str(free_port()),
        "LOG_LEVEL": "WARNING",
        **settings,
    }
