"""The health watch, with time moved forward: two unhealthy polls in a row raise an alert,
one does not, recovery says so on the card, and two replicas poll once per interval."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.startup import StartupError
from tests.conftest import ADMIN_COOKIE, BACKUP, BOTH_DATABASES, COOKIE_VALUE, INCIDENTS
from tests.support.alerts import alerts, card_now, cards
from tests.support.db import drained, events, scheduler_pass
from tests.support.flows import block_text, declare, posts_to
from tests.support.runbook_ui import buttons

INTERVAL = 60

pytestmark = BOTH_DATABASES


async def watching(start_bot, target, **overrides):
    settings = {
        "service_url": target.url,
        "health_watch_interval": f"{INTERVAL}s",
        "admin_session_cookie": ADMIN_COOKIE,
        "action_timeout": 0.5,
    }
    bot = await start_bot(**{**settings, **overrides})
    await scheduler_pass(bot)  # the first poll, at start
    return bot


async def next_poll(bot):
    bot.clock.advance(seconds=INTERVAL)
    await scheduler_pass(bot)


def health_polls(target):
    return len(target.requests_to("/api/health", "GET"))


async def test_two_unhealthy_polls_raise_a_site_down_alert_and_recovery_is_posted(
    start_bot, target
):
    target.set_health("unhealthy", "ok", 503)
    bot = await watching(start_bot, target)
    assert health_polls(target) == 1
    assert await alerts(bot) == [] and cards(bot.slack) == []

    bot.clock.advance(seconds=INTERVAL - 1)  # not due yet: no poll
    await scheduler_pass(bot)
    assert health_polls(target) == 1

    bot.clock.advance(seconds=1)
    await scheduler_pass(bot)
    assert health_polls(target) == 2
    [alert] = await alerts(bot)
    assert (alert.source, alert.severity, alert.runbook_id) == ("health-watch", "P1", "site-down")
    assert "HTTP 503" in alert.title and "unhealthy" in alert.title
    [card] = cards(bot.slack)
    assert "Declare P1" in buttons(card.args["blocks"])

    await next_poll(bot)  # still down: the same alert, no second card
    assert len(await alerts(bot)) == 1 and len(cards(bot.slack)) == 1

    target.set_health("healthy", "ok", 200)
    await next_poll(bot)
    await drained(bot)
    [alert] = await alerts(bot)
    assert alert.recovered_at == bot.clock.now()
    assert "Recovered at 09:33 UTC" in block_text(card_now(bot.slack, alert.card_ts)["blocks"])
    [reply] = posts_to(bot.slack, INCIDENTS, alert.card_ts)
    assert "Health watch: recovered at 09:33 UTC" in reply.args["text"]


async def test_one_unhealthy_poll_between_healthy_ones_raises_nothing(start_bot, target):
    bot = await watching(start_bot, target)
    target.set_health("unhealthy", "ok", 503)
    await next_poll(bot)
    target.set_health("healthy", "ok", 200)
    await next_poll(bot)
    target.set_health("unhealthy", "ok", 503)
    await next_poll(bot)
    assert health_polls(target) == 4
    assert await alerts(bot) == [] and cards(bot.slack) == []


async def test_unreachable_service_counts_as_unhealthy(start_bot, target):
    target.delay("/api/health", 2.0)  # longer than ACTION_TIMEOUT: the read times out
    bot = await watching(start_bot, target)
    await next_poll(bot)
    [alert] = await alerts(bot)
    assert alert.runbook_id == "site-down"
    assert "Health check failed: timed out after 0.5 s" in alert.title


async def test_disk_and_rate_limit_signals_map_to_their_rules(start_bot, target, caplog):
    caplog.set_level(logging.DEBUG)
    target.disk_status = "critical"
    target.rate_limits = {"alerting": True, "blockedRatio": 0.86}
    bot = await watching(start_bot, target)
    await next_poll(bot)
    found = {(a.dedup_key, a.severity, a.runbook_id) for a in await alerts(bot)}
    assert found == {
        ("health-watch:disk_critical", "P1", "database-disk"),
        ("health-watch:disk_warning", "P3", "database-disk"),
        ("health-watch:rate_limit", "P3", None),
    }
    rate = [a for a in await alerts(bot) if a.dedup_key.endswith("rate_limit")][0]
    assert "86% blocked" in rate.title
    # The admin endpoint is read with the admin cookie, which never reaches a log.
    [first, *_] = target.requests_to("/api/admin/rate-limits", "GET")
    assert first.header("Cookie") == ADMIN_COOKIE
    assert COOKIE_VALUE not in caplog.text

    target.disk_status = "warning"  # down from critical: only the critical one recovers
    await next_poll(bot)
    recovered = {a.dedup_key for a in await alerts(bot) if a.recovered_at}
    assert recovered == {"health-watch:disk_critical"}


async def test_watch_alert_joins_the_open_site_down_incident(start_bot, target):
    bot = await watching(start_bot, target)
    inc = await declare(bot, "P1 Site down --runbook site-down")
    target.set_health("unhealthy", "ok", 503)
    await next_poll(bot)
    await next_poll(bot)
    [event] = await events(bot, inc.id, "alert")
    assert "Health watch alert #1" in event.text
    assert cards(bot.slack) == []


async def test_two_replicas_poll_once_per_interval(start_bot, target):
    target.set_health("unhealthy", "ok", 503)
    one = await watching(start_bot, target)
    two = await watching(start_bot, target)  # the same database file: a second replica
    assert health_polls(target) == 1
    one.clock.advance(seconds=INTERVAL)
    await scheduler_pass(one)
    await scheduler_pass(two)
    assert health_polls(target) == 2
    # Streaks are shared: whichever replica polled second raised the alert, once.
    assert len(await alerts(one)) == 1
    await drained(two)
    assert len(cards(one.slack)) == 1


async def test_watch_is_off_by_default(bot):
    assert bot.services.scheduler.jobs == ()


@pytest.fixture
def checklist_only_runbooks(tmp_path: Path) -> Path:
    """A runbook folder whose only runbook calls nothing (key-rotation is a checklist)."""
    books = tmp_path / "books"
    books.mkdir()
    shipped = Path(__file__).resolve().parents[2] / "runbooks" / "key-rotation.yaml"
    (books / "key-rotation.yaml").write_text(shipped.read_text())
    return books


async def test_watch_refuses_to_start_when_no_runbook_may_call_the_service(
    start_bot, target, checklist_only_runbooks
):
    with pytest.raises(StartupError, match="no runbook calls SERVICE_URL's host"):
        await start_bot(
            service_url=target.url,
            health_watch_interval="60s",
            runbooks_dir=str(checklist_only_runbooks),
        )


async def test_a_hanging_health_check_does_not_hold_up_an_escalation(start_bot, target):
    bot = await watching(start_bot, target, action_timeout=5)
    await declare(bot, "P1 Site down")
    target.delay("/api/health", 4)
    bot.clock.advance(minutes=15)  # the escalation and the next poll are due together
    # The poll hangs for 4 s; the backup is paged on the scheduler's next pass all the same.
    [page] = await bot.slack.wait_for(
        "chat.postMessage", timeout=2, where=lambda c: c.args.get("channel") == BACKUP
    )
    assert "escalated: the primary did not acknowledge" in page.args["text"]
    assert bot.services.scheduler.jobs_busy
    target.reset()
