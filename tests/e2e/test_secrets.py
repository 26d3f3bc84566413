"""Secrets never reach the database, the logs or Slack, even when the target echoes them."""

from __future__ import annotations

import json
import logging

from sqlalchemy import text

from tests.conftest import ADMIN_COOKIE, ANTHROPIC_KEY, APPROVERS, COOKIE_VALUE, CRON_SECRET
from tests.support.db import drained, events, until
from tests.support.flows import declare, opened_form
from tests.support.runbook_ui import decide, press, wait_approval
from tests.support.slack_sender import checkbox_values, text_value

SECRETS = (CRON_SECRET, COOKIE_VALUE, ADMIN_COOKIE, ANTHROPIC_KEY)
PLAIN = (
    "Check health",
    "Disable maintenance mode",
    "Force logout (dry run)",
    "Run cleanup-previews",
    "Run db-health",
    "Test Anthropic API",
)


async def _dump_database(bot) -> str:
    rows = []
    async with bot.services.db.engine.connect() as conn:
        for table in ("incident", "timeline_event", "outbox", "step_run", "processed_event"):
            result = await conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            rows += [repr(tuple(r)) for r in result]
    return "\n".join(rows)


async def test_no_secret_in_database_logs_or_slack(ops_bot, caplog):
    caplog.set_level(logging.DEBUG)
    target = ops_bot.target
    target.echo_secrets_on_error(True)
    inc = await declare(ops_bot, "P1 Breach and outage --runbook data-breach")
    await until(lambda: _runbook_posted(ops_bot))
    channel = inc.channel_id
    await ops_bot.sender.command("runbook database-disk", channel=channel)
    await until(lambda: _runbook_posted(ops_bot, "database-disk"))
    await press(ops_bot, channel, "Run cleanup-previews")
    await press(ops_bot, channel, "Run db-health")
    # Everything the target answers is an error that echoes the request, credentials included.
    target.fail("*", status=500, times=None)
    for runbook_id, labels in (
        ("site-down", PLAIN[:2]),
        ("data-breach", PLAIN[2:3]),
        ("database-disk", PLAIN[3:5]),
        ("ai-generation-down", PLAIN[5:]),
    ):
        await ops_bot.sender.command(f"runbook {runbook_id}", channel=channel)
        await until(lambda rid=runbook_id: _runbook_posted(ops_bot, rid))
        for label in labels:
            await press(ops_bot, channel, label)
            await until(lambda lb=label: _ran(ops_bot, lb), what=label)
    # And the two dangerous ones, through their forms and an approval.
    await ops_bot.sender.command("runbook data-breach", channel=channel)
    await until(lambda: _runbook_posted(ops_bot, "data-breach"))
    form = await opened_form(ops_bot.slack, press(ops_bot, channel, "Force logout"))
    await ops_bot.sender.submit_view(
        form, {"input:reason": text_value("breach"), "input:exceptAdmins": checkbox_values("true")}
    )
    await wait_approval(ops_bot, channel)
    await decide(ops_bot, channel, "Approve", APPROVERS[0])
    await until(lambda: _ran(ops_bot, "Force logout*"), what="force logout")
    await drained(ops_bot)

    echoed = [r for r in target.requests if r.status >= 500]
    assert len(echoed) >= 7  # the failures really happened, and echoed what they got
    assert any(COOKIE_VALUE in (r.header("Cookie") or "") for r in echoed)

    places = {
        "database": await _dump_database(ops_bot),
        "logs": "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records),
        "slack": json.dumps([c.args for c in ops_bot.slack.calls], default=str)
        + json.dumps(ops_bot.slack.responses, default=str),
    }
    for where, content in places.items():
        for secret in SECRETS:
            assert secret not in content, f"{secret!r} leaked into the {where}"
    assert "HTTP 500 (expected 200)" in places["database"]  # the failures were recorded


async def _runbook_posted(bot, runbook_id="data-breach"):
    from tests.support.db import incident

    inc = await incident(bot, 1)
    if inc.runbook_id != runbook_id or not inc.runbook_ts:
        return False
    await drained(bot)
    return True


async def _ran(bot, label):
    return [e for e in await events(bot, 1, "action") if f"*{label}" in e.text]
