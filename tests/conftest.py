"""Fixtures: the fake Slack Web API, a movable clock, and the bot running over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings, load_settings
from handlers.server import Running, start_http
from tests.fakes.slack_api import FakeSlack
from tests.support.clock import FakeClock
from tests.support.postgres import fresh_database
from tests.support.slack_sender import SlackSender

SIGNING_SECRET = "test-signing-secret-7f3a"
BOT_TOKEN = "xoxb-test-token-0000"
INCIDENTS = "CINCIDENTS"
PRIMARY = "UPRIMARY1"
BACKUP = "UBACKUP1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    fake.add_channel(INCIDENTS, "incidents")
    fake.add_channel("CGENERAL1", "general")
    yield fake
    await fake.stop()


# Modules whose tests run on both databases set `pytestmark = BOTH_DATABASES`; the rest use
# SQLite (running the whole suite twice would double CI time for little).
BOTH_DATABASES = pytest.mark.parametrize("backend", ["sqlite", "postgres"])


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of the test's backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'incidents.db'}"
        return
    async with fresh_database() as url:
        yield url


@pytest.fixture
def make_settings(database_url: str, slack: FakeSlack) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "_env_file": None,
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            # Without the trailing slash on purpose: the bot must add it.
            "slack_api_url": slack.base_url.rstrip("/"),
            "database_url": database_url,
            "incidents_channel": INCIDENTS,
            "oncall_primary": PRIMARY,
            "oncall_backup": BACKUP,
            "clock_interval": 0.02,
            "slack_post_interval": 0,
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@dataclass
class Bot:
    running: Running
    sender: SlackSender
    slack: FakeSlack
    clock: FakeClock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.running.port}"

    @property
    def services(self) -> Any:
        return self.running.services


@pytest.fixture
async def start_bot(
    make_settings: Callable[..., Settings], slack: FakeSlack, clock: FakeClock
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Bot] = []

    async def start(**overrides: Any) -> Bot:
        settings = make_settings(**overrides)
        running = await start_http(settings, clock, host="127.0.0.1", port=0, outbox_poll=0.02)
        url = f"http://127.0.0.1:{running.port}"
        bot = Bot(running, SlackSender(url, SIGNING_SECRET, slack.response_url), slack, clock)
        started.append(bot)
        return bot

    yield start
    # Every sender first: a stopping bot waits for open connections, also to the other bots.
    for bot in started:
        await bot.sender.close()
    for bot in started:
        await bot.running.stop()


@pytest.fixture
async def bot(start_bot: Callable[..., Any]) -> Bot:
    return await start_bot()


CRON_SECRET = "cron-secret-5b1e9d"
COOKIE_VALUE = "sess-tok-91c4aa7e"
ADMIN_COOKIE = f"next-auth.session-token={COOKIE_VALUE}"
ANTHROPIC_KEY = "sk-ant-test-3f9c2d"
APPROVERS = ("UAPPROVER1", "UAPPROVER2")
STATUS_PAGES = ("vercel", "supabase", "upstash", "stripe", "anthropic")


@pytest.fixture
async def target(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """The service the runbooks act on (and the status pages and Anthropic), faked locally."""
    from tests.fakes.target_service import FakeTarget

    fake = FakeTarget(
        expected_cookie=ADMIN_COOKIE, cron_secret=CRON_SECRET, anthropic_key=ANTHROPIC_KEY
    )
    await fake.start()
    # Runbook URLs name these with the real services as defaults; point them at the fake.
    for name in STATUS_PAGES:
        monkeypatch.setenv(f"STATUS_{name.upper()}_URL", fake.status_page_url(name))
    monkeypatch.setenv("ANTHROPIC_API_URL", fake.url)
    yield fake
    await fake.stop()


@pytest.fixture
async def ops_bot(start_bot: Callable[..., Any], target: Any) -> Bot:
    """A bot wired to the fake target, with secrets and approvers set."""
    bot = await start_bot(
        service_url=target.url,
        cron_secret=CRON_SECRET,
        admin_session_cookie=ADMIN_COOKIE,
        anthropic_api_key=ANTHROPIC_KEY,
        incident_approvers=",".join(APPROVERS),
        action_timeout=0.5,
    )
    bot.target = target  # type: ignore[attr-defined]
    return bot
