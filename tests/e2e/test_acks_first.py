"""Slack is answered first and the work follows: a slow Web API never delays an answer, a
burst of messages is stored whole (once each, in order with its edits), and commands from one
channel still do their work in the order they came."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import ADMIN_COOKIE, CRON_SECRET
from tests.support.db import events, incident, incidents, until
from tests.support.flows import declare
from tests.support.runbook_ui import press

BURST = 60


def _message(channel: str, i: int, text: str | None = None) -> dict[str, str]:
    return {
        "type": "message",
        "channel": channel,
        "user": f"UUSER{i % 5}",
        "text": text or f"burst {i}",
        "ts": f"1773481000.{i:06d}",
    }


async def test_the_answer_does_not_wait_for_a_slow_web_api(bot):
    bot.slack.latency_for["views.open"] = 4.0  # over Slack's 3 s deadline
    started = time.monotonic()
    response = await bot.sender.command("declare")
    answered_in = time.monotonic() - started
    assert response.status_code == 200
    assert answered_in < 1.0, answered_in
    # The form is still opened, after the answer.
    [opened] = await bot.slack.wait_for("views.open", timeout=10)
    assert opened.args["view"]["callback_id"]


async def test_a_burst_of_messages_is_stored_once_each_with_redeliveries_ignored(bot):
    inc = await declare(bot, "P1 Site down")
    channel = inc.channel_id
    sends = [bot.sender.event(_message(channel, i), event_id=f"EvB{i}") for i in range(BURST)]
    # Slack's retries of some deliveries (same event_id), arriving within the same burst.
    sends += [
        bot.sender.event(_message(channel, i), event_id=f"EvB{i}", retry=1)
        for i in range(0, BURST, 7)
    ]
    # The same message delivered again under another event_id: still one row.
    sends += [bot.sender.event(_message(channel, 3), event_id="EvOther3")]
    answers = await asyncio.gather(*sends)
    assert {a.status_code for a in answers} == {200}

    async def stored() -> list:
        rows = await events(bot, 1, "message")
        return rows if len(rows) >= BURST else []

    rows = await until(stored, what=f"{BURST} message rows")
    await asyncio.sleep(0.2)  # anything more would be a duplicate: give it time to show
    rows = await events(bot, 1, "message")
    assert sorted(r.text for r in rows) == sorted(f"burst {i}" for i in range(BURST))
    assert len({r.slack_ts for r in rows}) == BURST


async def test_an_edit_right_behind_its_message_is_applied_to_it(bot):
    inc = await declare(bot, "P1 Site down")
    channel = inc.channel_id
    # Sent back to back, without waiting for the first to be stored.
    await bot.sender.event(_message(channel, 1, "db cpu 100%"))
    await bot.sender.event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": channel,
            "message": {"ts": "1773481000.000001", "user": "UUSER1", "text": "db cpu 10%"},
            "ts": "1773481001.1",
        }
    )

    async def edited() -> list:
        rows = await events(bot, 1, "message")
        return rows if rows and rows[0].history else []

    [row] = await until(edited, what="the edit")
    assert row.text == "db cpu 10%"
    assert "db cpu 100%" in row.history


async def test_notes_sent_back_to_back_are_stored_in_the_order_they_were_typed(bot):
    inc = await declare(bot, "P1 Site down")
    for i in range(8):
        response = await bot.sender.command(f"note step {i}", channel=inc.channel_id)
        assert response.status_code == 200

    async def noted() -> list:
        rows = await events(bot, 1, "note")
        return rows if len(rows) == 8 else []

    rows = await until(noted, what="the eight notes")
    assert [r.text.split("noted: ")[1] for r in rows] == [f"step {i}" for i in range(8)]
    assert len(await incidents(bot)) == 1


async def test_a_message_that_cannot_be_stored_does_not_take_its_batch_with_it(bot):
    inc = await declare(bot, "P1 Site down")
    channel = inc.channel_id
    # A lone surrogate (valid JSON escape, not encodable as UTF-8): the database refuses
    # that one row. The messages stored in the same batch must not be lost with it.
    poison = {i for i in range(0, BURST, 10)}
    sends = [
        bot.sender.event(_message(channel, i, "bad \ud800" if i in poison else None))
        for i in range(BURST)
    ]
    answers = await asyncio.gather(*sends)
    assert {a.status_code for a in answers} == {200}

    async def stored() -> list:
        rows = await events(bot, 1, "message")
        return rows if len(rows) >= BURST - len(poison) else []

    await until(stored, what="every storable message of the burst")
    rows = await events(bot, 1, "message")
    expected = sorted(f"burst {i}" for i in range(BURST) if i not in poison)
    assert sorted(r.text for r in rows) == expected


async def test_two_slow_runbook_actions_do_not_hold_up_opening_a_form(start_bot, target):
    bot = await start_bot(
        service_url=target.url,
        cron_secret=CRON_SECRET,
        admin_session_cookie=ADMIN_COOKIE,
        action_timeout=8,
    )
    channels = []
    for title in ("Site down", "Checkout errors"):
        inc = await declare(bot, f"P1 {title} --runbook site-down")
        await until(lambda i=inc: _runbook_posted(bot, i.id), what="the runbook message")
        channels.append(inc.channel_id)
    target.delay("/api/health", 6)  # the service hangs, as it does in an incident
    for channel in channels:
        await press(bot, channel, "Check health")
    await target.wait_for("/api/health", count=2)

    # While both actions wait on the service, someone opens the declare form: Slack's
    # trigger_id is good for 3 s, so the form must not wait for the actions to end.
    before = len(bot.slack.calls_to("views.open"))
    started = time.monotonic()
    response = await bot.sender.command("declare")
    assert response.status_code == 200
    await bot.slack.wait_for("views.open", count=before + 1, timeout=10)
    waited = time.monotonic() - started
    assert waited < 2.5, f"the form opened {waited:.1f} s after the click"


async def _runbook_posted(bot, number: int) -> bool:
    return bool((await incident(bot, number)).runbook_ts)
