"""`python -m bot export` run as a process against a database the bot filled over HTTP."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BOT_TOKEN, CRON_SECRET, INCIDENTS, SIGNING_SECRET
from tests.support.db import drained
from tests.support.flows import declare

ROOT = Path(__file__).resolve().parents[2]


def run_export(database: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "INCIDENT"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        INCIDENTS_CHANNEL=INCIDENTS,
        CRON_SECRET=CRON_SECRET,
        DATABASE_URL=f"sqlite:///{database}",
        PYTHONPATH=str(ROOT),
    )
    return subprocess.run(
        [sys.executable, "-m", "bot", "export", *args],
        cwd=database.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
async def filled(start_bot, tmp_path):
    """A public P2 with a note that carries a secret, and a private P1."""
    bot = await start_bot(cron_secret=CRON_SECRET)
    public = await declare(bot, "P2 Checkout slow")
    await bot.sender.command(
        f"note pasted by mistake: Bearer {CRON_SECRET}", channel=public.channel_id
    )
    await declare(bot, "P1 Customer data leaked --private")
    await drained(bot)
    await bot.running.stop()
    return tmp_path / "incidents.db"


async def test_json_export_redacts_secrets_and_private_incidents(filled):
    result = run_export(filled, "--since", "2026-01-01", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    public, private = data["incidents"]
    assert public["title"] == "Checkout slow" and public["severity"] == "P2"
    kinds = [e["kind"] for e in public["timeline"]]
    assert kinds[0] == "declared" and "note" in kinds
    note = next(e for e in public["timeline"] if e["kind"] == "note")
    assert "[redacted]" in note["text"]
    assert CRON_SECRET not in result.stdout
    assert private["title"] == "private incident" and private["timeline"] == []
    assert private["private"] is True and private["declared_at"].startswith("2026-03-14")
    assert "Customer data leaked" not in result.stdout


async def test_private_details_only_with_the_flag_and_csv_to_a_file(filled):
    out = filled.parent / "export.csv"
    result = run_export(
        filled,
        "--since",
        "2026-03-14",
        "--format",
        "csv",
        "--include-private",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and "wrote 2 incidents" in result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["incident"] for r in rows} == {"INC-1", "INC-2"}
    leaked = [r for r in rows if r["incident"] == "INC-2"]
    assert leaked[0]["title"] == "Customer data leaked" and leaked[0]["event_kind"] == "declared"
    assert CRON_SECRET not in out.read_text()


async def test_since_filters_by_declare_date(filled):
    result = run_export(filled, "--since", "2026-03-15", "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout)["incidents"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "json"], "--since is required"),
        (["--since", "yesterday"], "--since must be a date like 2026-01-01"),
        (["--since", "2026-01-01", "--format", "xml"], "--format must be csv or json"),
        (["--since", "2026-01-01", "--output", "no/such/dir/out.csv"], "no/such/dir"),
        (["--since", "2026-01-01", "--output", "."], "--output . is a directory"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(tmp_path, args, message):
    database = tmp_path / "incidents.db"
    database.touch()
    result = run_export(database, *args)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("export: ") and message in line


def test_a_missing_database_file_is_named(tmp_path):
    result = run_export(tmp_path / "nope.db", "--since", "2026-01-01")
    assert result.returncode == 2 and "there is no database at" in result.stderr
    assert not (tmp_path / "nope.db").exists()
