"""Starting what the load generator talks to: the bot (`python -m bot` in a subprocess, or
start_http in this process) and the bare Bolt reference, both on 127.0.0.1 only.

Why subprocesses by default: on a 2-core machine an in-process bot shares one event loop and
one GIL with the load generator and the fake Slack, so every millisecond the generator spends
building and timing requests is charged to the bot's acknowledgements, and the bot cannot use
the second core. `--in-process` keeps that mode for comparison."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "bench-signing-secret-5d1c"
BOT_TOKEN = "xoxb-bench-0000"
INCIDENTS = "CINCIDENTS"
PRIMARY = "UPRIMARY1"
BACKUP = "UBACKUP1"
HEALTH_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass
class Target:
    name: str
    port: int
    stop: Callable[[], Awaitable[None]]
    pid: int | None = None  # None: running inside this process
    started_in: float | None = None  # seconds from process start to the first /healthz 200
    db_path: Path | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    # The tiny race (someone else binding it before the child does) is acceptable on loopback.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in kB, from /proc."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def _workdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _tail(log: Path | None) -> str:
    return log.read_text()[-2000:] if log and log.exists() else ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bot_env(slack_api_url: str, db_path: Path, port: int) -> dict[str, str]:
    # Drop any Slack settings of the caller's shell so the bot under test cannot reach Slack.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "INCIDENT"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            # Empty means unset; set anyway so a stray .env cannot switch to Socket Mode.
            "SLACK_APP_TOKEN": "",
            "SLACK_API_URL": slack_api_url,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "INCIDENTS_CHANNEL": INCIDENTS,
            "ONCALL_PRIMARY": PRIMARY,
            "ONCALL_BACKUP": BACKUP,
            "PORT": str(port),
            "LOG_LEVEL": "INFO",  # what production runs with
        }
    )
    return env


async def wait_healthy(url: str, proc: asyncio.subprocess.Process | None, log: Path | None) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    async with httpx.AsyncClient(timeout=1.0) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url + "/healthz")).status_code == 200:
                    return
            if proc is not None and proc.returncode is not None:
                raise RuntimeError(
                    f"{url} exited with {proc.returncode} before healthy:\n{_tail(log)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not healthy within {HEALTH_TIMEOUT}s")
            await asyncio.sleep(0.01)


async def _spawn(
    name: str, args: list[str], env: dict[str, str], workdir: Path, port: int
) -> Target:
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=workdir,  # no .env there
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, proc, log_path)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        log.close()
        raise
    started_in = time.perf_counter() - started

    async def stop() -> None:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()

    return Target(name, port, stop, proc.pid, started_in, log_path=log_path)


async def launch_bot(
    workdir: Path, slack_api_url: str, name: str = "bot", database_url: str | None = None
) -> Target:
    """`python -m bot` on a fresh database (or `database_url`), as a web dyno would run it."""
    db_path = _workdir(workdir) / f"{name}.db"
    port = free_port()
    env = bot_env(slack_api_url, db_path, port)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    target = await _spawn(name, ["-m", "bot"], env, workdir, port)
    target.db_path = db_path
    return target


async def launch_reference(workdir: Path, slack_api_url: str) -> Target:
    _workdir(workdir)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["-m", "bench.reference", "--port", str(port), "--slack-api-url", slack_api_url]
    return await _spawn(
        "reference", [*args, "--signing-secret", SIGNING_SECRET], env, workdir, port
    )


async def start_bot_in_process(workdir: Path, slack_api_url: str) -> Target:
    from bot.settings import load_settings
    from handlers.server import start_http

    db_path = _workdir(workdir) / "bot-in-process.db"
    settings = load_settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api_url,
        database_url=f"sqlite:///{db_path}",
        incidents_channel=INCIDENTS,
        oncall_primary=PRIMARY,
        oncall_backup=BACKUP,
    )
    started = time.perf_counter()
    running = await start_http(settings, host="127.0.0.1", port=0)
    target = Target("bot", running.port, running.stop, None, time.perf_counter() - started)
    target.db_path = db_path
    return target


async def start_reference_in_process(slack_api_url: str) -> Target:
    from bench.reference import start_reference

    runner, port = await start_reference(slack_api_url, SIGNING_SECRET)
    return Target("reference", port, runner.cleanup)
