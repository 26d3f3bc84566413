"""Settings normalisation and the storage set-up."""

from __future__ import annotations

import asyncio

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.settings import SettingsError, load_settings
from storage.db import Database, alembic_config, async_url, safe_url

BASE = {
    "_env_file": None,
    "slack_bot_token": "xoxb-1",
    "slack_signing_secret": "s",
    "incidents_channel": "CINC1",
}


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/api", "http://127.0.0.1:9/api/"])
def test_slack_api_url_works_with_or_without_trailing_slash(url):
    assert load_settings(**BASE, slack_api_url=url).slack_api_url == "http://127.0.0.1:9/api/"


def test_approvers_are_a_comma_separated_list():
    settings = load_settings(**BASE, incident_approvers=" U1, U2 ,,U3")
    assert settings.incident_approvers == ["U1", "U2", "U3"]


def test_socket_mode_needs_no_signing_secret_but_a_valid_app_token():
    values = {k: v for k, v in BASE.items() if k != "slack_signing_secret"}
    assert load_settings(**values, slack_app_token="xapp-1").socket_mode is True
    with pytest.raises(SettingsError, match="SLACK_APP_TOKEN must be an app-level token"):
        load_settings(**values, slack_app_token="xoxb-wrong")


def test_database_urls_get_async_drivers_and_passwords_are_masked():
    assert async_url("sqlite:///./x.db") == "sqlite+aiosqlite:///./x.db"
    assert async_url("postgres://u:pw@h/db") == "postgresql+asyncpg://u:pw@h/db"
    assert "pw" not in safe_url("postgresql://u:pw@h/db")


async def test_sqlite_runs_in_wal_mode_with_the_newest_schema(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    await db.upgrade()
    async with db.engine.connect() as conn:
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        tables = {
            r[0]
            for r in await conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        }
    await db.close()
    assert mode == "wal"
    assert version == head()
    assert {
        "incident",
        "timeline_event",
        "outbox",
        "processed_event",
        "step_run",
        "alert",
        "home_viewer",
        "counter",
        "replica",
    } <= tables


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# PostgreSQL is what several replicas share; SQLite's upgrade takes its write lock likewise,
# but its journal-mode switch on a brand-new file can refuse a second process outright.
@pytest.mark.parametrize("backend", ["postgres"])
async def test_replicas_starting_at_once_upgrade_a_fresh_database_once(database_url):
    replicas = [Database(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(replica.upgrade() for replica in replicas))
        async with replicas[0].session() as session:
            version = (await session.exec(text("SELECT version_num FROM alembic_version"))).all()  # type: ignore[call-overload]
    finally:
        for replica in replicas:
            await replica.close()
    assert [tuple(row) for row in version] == [(head(),)]
