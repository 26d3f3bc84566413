"""Starting the bot: a missing or malformed setting stops it with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_SIGNING_SECRET": "secret",
    "INCIDENTS_CHANNEL": "CINCIDENTS",
}


def run_bot(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "INCIDENT"))}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,  # no .env there
        env={**clean, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN must be a bot token"),
        ({"INCIDENTS_CHANNEL": "#incidents"}, "INCIDENTS_CHANNEL must be a Slack ID"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET is required in HTTP mode"),
        ({"PORT": "eighty"}, "PORT"),
        ({"SLACK_API_URL": "slack.example"}, "SLACK_API_URL must be an http"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must be a sqlite"),
        ({"ESCALATE_AFTER": "15 minutes"}, "ESCALATE_AFTER must be a duration like 90s"),
        ({"ARCHIVE_AFTER": "-1d"}, "ARCHIVE_AFTER must be a duration"),
        ({"HEALTH_WATCH_INTERVAL": "5s"}, "HEALTH_WATCH_INTERVAL must be at least 10s"),
        ({"ALERT_WEBHOOK_SECRET": "short"}, "ALERT_WEBHOOK_SECRET must be at least 16"),
        ({"ALERT_AUTO_DECLARE": "site-down"}, "ALERT_AUTO_DECLARE needs ONCALL_PRIMARY"),
        (
            {"ALERT_AUTO_DECLARE": "P1,site-dwn", "ONCALL_PRIMARY": "U1"},
            "ALERT_AUTO_DECLARE: 'site-dwn' is neither a severity",
        ),
    ],
)
def test_bad_setting_stops_startup_with_one_line(tmp_path, env, named):
    values = {**BASE, **env}
    values = {k: v for k, v in values.items() if v != ""}
    result = run_bot(tmp_path, values)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0] and "Traceback" not in result.stderr
    assert "secret" not in lines[0].split(":", 1)[1] or named.startswith("SLACK_SIGNING")


def test_invalid_runbook_stops_startup_naming_file_and_field(tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "site-down.yaml").write_text("id: site-down\ntitle: x\nbogus: 1\n")
    result = run_bot(tmp_path, {**BASE, "RUNBOOKS_DIR": str(folder)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("incident-bot: invalid runbook")
    assert "site-down.yaml" in line and "check-runbooks" in line


def test_check_runbooks_command(tmp_path):
    ok = run_bot(tmp_path, {}, "check-runbooks", str(ROOT / "runbooks"))
    assert ok.returncode == 0 and ok.stdout.startswith("ok: 8 runbooks")
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    (bad_dir / "x.yaml").write_text("id: x\n")
    bad = run_bot(tmp_path, {}, "check-runbooks", str(bad_dir))
    assert bad.returncode == 1 and "x.yaml" in bad.stdout
