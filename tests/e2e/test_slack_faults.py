"""Slack down, failing or throttling during an incident: every message arrives, in order,
none twice, and the database keeps the whole story meanwhile."""

from __future__ import annotations

from tests.conftest import BOTH_DATABASES, INCIDENTS
from tests.support.db import drained, events, incidents, outbox, outbox_pass, until
from tests.support.flows import declare, posts_to

pytestmark = BOTH_DATABASES

NOTES = [f"step {i}" for i in range(6)]


def delivered_texts(slack, channel, thread_ts=None):
    return [c.args["text"] for c in posts_to(slack, channel, thread_ts)]


async def work_the_incident_while(bot, channel):
    # One at a time, as a person types them: sent together, the commands' transactions may
    # commit in another order, and the order promised is the database's.
    for count, note in enumerate(NOTES, 1):
        await bot.sender.command(f"note {note}", channel=channel)
        # The commands are answered (response_url is not the Web API) and stored.
        await until(lambda count=count: _notes(bot, count), what="the note in the database")


async def _notes(bot, count):
    return len(await events(bot, 1, "note")) == count


async def settle(bot, minutes=10):
    """Move time on in small steps so every backoff comes due, until all is delivered."""
    for _ in range(minutes * 12):
        if all(r.state in ("done", "failed") for r in await outbox(bot)):
            return
        bot.clock.advance(seconds=5)
        await outbox_pass(bot, 1)
    await drained(bot)


def noted(slack, channel, thread=None):
    """The notes as delivered, line by line (a burst may arrive as one message)."""
    lines = [line for t in delivered_texts(slack, channel, thread) for line in t.splitlines()]
    return [line.split("noted: ")[1] for line in lines if "noted: " in line]


def assert_in_order_once(slack, inc):
    for channel, thread in ((inc.channel_id, None), (INCIDENTS, inc.root_ts)):
        assert noted(slack, channel, thread) == NOTES, channel


async def test_slack_down_for_a_minute_then_back(bot):
    inc = await declare(bot, "P1 Site down")
    await bot.slack.go_down()  # connection refused
    await work_the_incident_while(bot, inc.channel_id)
    bot.clock.advance(seconds=30)
    await outbox_pass(bot)
    await bot.slack.come_back()
    bot.slack.server_errors(True)  # up again, but answering 500 for a while
    bot.clock.advance(seconds=30)
    await outbox_pass(bot)
    pending = [r for r in await outbox(bot) if r.state == "pending"]
    assert pending and all(r.last_error for r in pending[:1])  # kept, with the reason
    bot.slack.server_errors(False)
    await settle(bot)
    assert all(r.state == "done" for r in await outbox(bot))
    assert_in_order_once(bot.slack, inc)


async def test_rate_limited_every_third_call(bot):
    bot.slack.fail_every(3, status=429, retry_after=2, method="chat.postMessage")
    await bot.sender.command("declare P1 Site down")
    await bot.slack.wait_for_response()
    await settle(bot)
    [inc] = await incidents(bot)
    await work_the_incident_while(bot, inc.channel_id)
    await settle(bot)
    assert all(r.state == "done" for r in await outbox(bot))
    assert_in_order_once(bot.slack, inc)
    limited = [c for c in bot.slack.calls_to("chat.postMessage") if c.failed]
    assert limited, "the fake did rate-limit"


async def test_a_burst_is_coalesced_into_fewer_posts_and_every_event_is_kept(bot):
    inc = await declare(bot, "P1 Site down")
    await bot.slack.go_down()  # the burst piles up while Slack is away
    await work_the_incident_while(bot, inc.channel_id)
    await bot.slack.come_back()
    await settle(bot)
    posts = [t for t in delivered_texts(bot.slack, INCIDENTS, inc.root_ts) if "noted:" in t]
    assert len(posts) < len(NOTES)  # fewer thread replies than events
    assert noted(bot.slack, INCIDENTS, inc.root_ts) == NOTES
    assert len(await events(bot, 1, "note")) == len(NOTES)


async def test_posts_to_one_channel_are_paced(start_bot):
    bot = await start_bot(slack_post_interval=0.2)
    await bot.sender.command("declare P3 Widget broken")
    await bot.slack.wait_for_response()
    for i in range(3):
        await bot.sender.command(f"note INC-1 step {i}")
        await bot.slack.wait_for_response(count=i + 2)
        await drained(bot)
    sent = [
        c.at for c in bot.slack.calls_to("chat.postMessage") if c.args.get("channel") == INCIDENTS
    ]
    assert len(sent) >= 4
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert min(gaps) >= 0.19, gaps  # never two posts to one channel within the interval
