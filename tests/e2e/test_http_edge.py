"""The HTTP edge: signatures, health, and Slack writes that fail and are retried."""

from __future__ import annotations

import shutil
import time

import httpx

from tests.conftest import INCIDENTS
from tests.support.db import drained, incidents, outbox, outbox_pass, until
from tests.support.flows import declare, posts_to


async def test_bad_or_stale_signature_is_rejected_and_nothing_is_stored(bot):
    bad = await bot.sender.command("declare P1 Forged", signature="v0=" + "0" * 64)
    assert bad.status_code == 401
    stale = await bot.sender.command("declare P1 Replayed", timestamp=int(time.time()) - 600)
    assert stale.status_code == 401
    unsigned = await bot.sender.http.post(
        bot.sender.url,
        content=b"command=/incident&text=declare+P1+x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401
    assert await incidents(bot) == []
    assert bot.slack.calls_to("chat.postMessage") == [] and bot.slack.responses == []


async def test_healthz_reports_the_database(bot, tmp_path):
    async with httpx.AsyncClient() as http:
        ok = await http.get(f"{bot.url}/healthz")
        assert ok.status_code == 200
        assert ok.json()["status"] == "ok" and ok.json()["database"] == "ok"

        # The database goes away: its folder disappears and pooled connections are dropped.
        moved = tmp_path.parent / (tmp_path.name + "-gone")
        shutil.move(tmp_path, moved)
        await bot.services.db.engine.dispose()
        try:
            down = await http.get(f"{bot.url}/healthz")
            assert down.status_code == 503
            assert down.json() == {"status": "error", "database": "unreachable"}
        finally:
            shutil.move(moved, tmp_path)
        assert (await http.get(f"{bot.url}/healthz")).status_code == 200


async def test_a_failed_slack_post_is_kept_and_retried_not_dropped(bot):
    bot.slack.fail("chat.postMessage", "internal_error", status=500, times=1)
    await bot.sender.command("declare P3 Email bouncing")
    await bot.slack.wait_for("chat.postMessage")
    pending = await until(
        lambda: _rows(
            bot, lambda r: r.op == "refresh_root" and r.attempts == 1 and r.state == "pending"
        ),
        what="the failed post kept as pending",
    )
    assert "500" in pending[0].last_error
    assert posts_to(bot.slack, INCIDENTS) == []
    bot.clock.advance(seconds=3)  # past the first backoff
    await bot.slack.wait_for("chat.postMessage", where=lambda c: not c.failed)
    await drained(bot)
    [incident] = await incidents(bot)
    assert incident.root_ts and len(posts_to(bot.slack, INCIDENTS)) == 1


async def test_rate_limited_post_waits_for_retry_after(bot):
    bot.slack.fail("chat.postMessage", status=429, retry_after=30, times=1)
    await bot.sender.command("declare P4 Typo on pricing page")
    await bot.slack.wait_for("chat.postMessage")
    [row] = await until(
        lambda: _rows(
            bot, lambda r: r.op == "refresh_root" and r.attempts == 1 and r.state == "pending"
        )
    )
    assert (row.not_before - bot.clock.now()).total_seconds() == 30  # Retry-After honoured
    bot.clock.advance(seconds=20)
    await outbox_pass(bot)
    assert posts_to(bot.slack, INCIDENTS) == []  # the worker looked, and waited
    bot.clock.advance(seconds=11)
    await bot.slack.wait_for("chat.postMessage", where=lambda c: not c.failed)


async def test_permanent_errors_are_recorded_and_counted_in_healthz(bot):
    bot.slack.fail("chat.postMessage", "channel_not_found", times=1)
    await declare(bot, "P3 Broken widget")
    rows = await _rows(bot, lambda r: r.state == "failed")
    assert [(r.op, r.last_error) for r in rows] == [("refresh_root", "200 channel_not_found")]
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"{bot.url}/healthz")).json()
    assert health["outbox_failed"] == 1
    # Reported in #incidents once Slack takes messages again.
    [report] = [
        c.args["text"] for c in posts_to(bot.slack, INCIDENTS) if "Slack refused" in c.args["text"]
    ]
    assert "the #incidents message for INC-1 (200 channel_not_found)" in report


async def _rows(bot, predicate):
    return [r for r in await outbox(bot) if predicate(r)]


async def test_a_failed_pin_is_retried_without_posting_the_header_twice(bot):
    bot.slack.fail("pins.add", "internal_error", status=500, times=1)
    await bot.sender.command("declare P1 Site down")
    await bot.slack.wait_for("pins.add")
    # Move time only once the failure is recorded: its retry is scheduled from "now".
    await until(lambda: _pin_retry_scheduled(bot), what="the failed pin to be rescheduled")
    bot.clock.advance(seconds=3)
    await bot.slack.wait_for("pins.add", count=2)
    await drained(bot)
    [incident] = await incidents(bot)
    headers = posts_to(bot.slack, incident.channel_id)
    assert len([h for h in headers if h.args["text"].startswith("INC-1 P1")]) == 1
    assert bot.slack.channels[incident.channel_id].pins == [incident.header_ts]


async def test_not_in_channel_joins_and_posts(bot):
    bot.slack.fail("chat.postMessage", "not_in_channel", times=1)
    await declare(bot, "P3 Widget broken")
    [join] = bot.slack.calls_to("conversations.join")
    assert join.args["channel"] == INCIDENTS
    assert len(posts_to(bot.slack, INCIDENTS)) == 1


async def _pin_retry_scheduled(bot) -> bool:
    rows = await outbox(bot)
    return any(r.op == "pin_header" and r.state == "pending" and r.last_error for r in rows)
