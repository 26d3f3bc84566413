"""The real process: SIGTERM leaves the outbox for the next start; SIGKILL during a runbook
action leaves it "outcome unknown" after the restart, and it is not run again by itself."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import INCIDENTS, SIGNING_SECRET
from tests.fakes.slack_api import FakeSlack
from tests.support.process import ROOT, BotProcess, process_env
from tests.support.runbook_ui import buttons
from tests.support.slack_sender import SlackSender


@pytest.fixture
async def env(tmp_path, slack, target) -> dict[str, str]:
    return process_env(
        slack.base_url,
        f"sqlite:///{tmp_path / 'bot.db'}",
        SERVICE_URL=target.url,
        CLOCK_INTERVAL="0.2",
        ACTION_TIMEOUT="30",
        # The killed process is presumed dead once it has been silent this long.
        REPLICA_TIMEOUT="1s",
    )


def runbook_messages(slack: FakeSlack) -> list[Any]:
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if str(c.args.get("text", "")).startswith("Runbook for INC") and not c.failed
    ]


async def test_sigkill_during_an_action_reports_outcome_unknown_and_does_not_rerun(
    env, slack, target, processes
):
    target.delay("/api/health", 60)  # the action is still running when the bot dies
    bot = BotProcess(env)
    processes.append(bot)
    await bot.start()
    sender = SlackSender(f"http://127.0.0.1:{bot.port}", SIGNING_SECRET, slack.response_url)
    try:
        await sender.command("declare P1 Site down --runbook site-down")
        await slack.wait_until(lambda: bool(runbook_messages(slack)), timeout=15)
        message = runbook_messages(slack)[-1]
        health = buttons(message.args["blocks"])["Check health"]
        await sender.click(health["action_id"], health["value"], channel=message.args["channel"])
        await target.wait_for("/api/health", timeout=15)
    finally:
        await sender.close()
    os.kill(bot.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
    await bot.wait_exit()

    again = BotProcess(env)
    processes.append(again)
    await again.start()
    unknown = await slack.wait_for(
        "chat.postMessage",
        timeout=15,
        where=lambda c: "outcome unknown" in str(c.args.get("text", "")),
    )
    assert "*Check health*: outcome unknown" in unknown[0].args["text"]
    await asyncio.sleep(0.5)  # a few scheduler and outbox passes of the new process
    assert len(target.requests_to("/api/health")) == 1  # not run again by itself


async def test_sigterm_stops_cleanly_and_the_next_start_delivers_what_was_queued(
    env, slack, processes
):
    bot = BotProcess(env)
    processes.append(bot)
    await bot.start()
    sender = SlackSender(f"http://127.0.0.1:{bot.port}", SIGNING_SECRET, slack.response_url)
    await slack.go_down()  # Slack unreachable: everything stays queued
    try:
        response = await sender.command("declare P3 Emails bouncing")
        assert response.status_code == 200
        await asyncio.sleep(0.5)
    finally:
        await sender.close()
    os.kill(bot.proc.pid, signal.SIGTERM)  # type: ignore[union-attr]
    code = await bot.wait_exit()
    stderr = bot.stderr_tail()
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr

    await slack.come_back()
    again = BotProcess(env)
    processes.append(again)
    await again.start()
    roots = await slack.wait_for(
        "chat.postMessage",
        timeout=20,
        where=lambda c: c.args.get("channel") == INCIDENTS and not c.failed,
    )
    assert "Emails bouncing" in roots[0].args["text"]


async def test_sigterm_right_after_a_burst_finishes_the_work_of_every_answered_command(
    env, slack, tmp_path, processes
):
    """Commands are answered before their work is done; SIGTERM then waits for that work."""
    bot = BotProcess(env)
    processes.append(bot)
    await bot.start()
    sender = SlackSender(f"http://127.0.0.1:{bot.port}", SIGNING_SECRET, slack.response_url)
    titles = [f"Alpha{i} Bravo{i} Charlie{i}" for i in range(20)]
    try:
        answers = await asyncio.gather(*(sender.command(f"declare P3 {t}") for t in titles))
    finally:
        await sender.close()
    assert {a.status_code for a in answers} == {200}
    os.kill(bot.proc.pid, signal.SIGTERM)  # type: ignore[union-attr]
    code = await bot.wait_exit()
    assert code == 0, bot.stderr_tail()

    with sqlite3.connect(tmp_path / "bot.db") as db:
        stored = {row[0] for row in db.execute("SELECT title FROM incident")}
    assert stored == set(titles)
    confirmed = [r for r in slack.responses if "declared" in r.get("text", "")]
    assert len(confirmed) == len(titles)


async def test_a_token_slack_rejects_stops_the_bot_with_one_line(tmp_path, slack, processes):
    """auth.test runs while the server starts (so start-up does not wait a Web API round trip
    for it), but a token Slack rejects still ends the process, exit code 2, and says why."""
    slack.fail("auth.test", "token_revoked")
    env = process_env(slack.base_url, f"sqlite:///{tmp_path / 'bot.db'}")
    bot = BotProcess(env)
    processes.append(bot)
    bot.proc = subprocess.Popen(  # noqa: ASYNC220 - watched by wait_exit
        [sys.executable, "-m", "bot"], cwd=ROOT, env=env, stderr=bot.log
    )
    assert await bot.wait_exit() == 2
    tail = bot.stderr_tail()
    assert "incident-bot: SLACK_BOT_TOKEN was rejected by Slack: token_revoked" in tail
    assert env["SLACK_BOT_TOKEN"] not in tail
    assert [c.failed for c in slack.calls_to("auth.test")] == ["token_revoked"]
