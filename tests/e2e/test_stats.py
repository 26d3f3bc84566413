"""/incident stats over HTTP: the numbers to the asker, the chart uploaded to the channel."""

from __future__ import annotations

from tests.conftest import BOTH_DATABASES
from tests.support.db import drained, events, incident, until
from tests.support.flows import block_text, declare
from tests.support.runbook_ui import press
from tests.support.slack_sender import text_value
from tests.unit.test_chart import png_size

pytestmark = BOTH_DATABASES

ALICE = "UALICE1"


async def resolve(bot, channel, cause="Bad deploy"):
    before = len(bot.slack.calls_to("views.open"))
    await bot.sender.command("resolve", channel=channel, user=ALICE)
    view = (await bot.slack.wait_for("views.open", count=before + 1))[-1].args["view"]
    await bot.sender.submit_view(view, {"root_cause": text_value(cause)}, user=ALICE)


async def _resolved_count(bot, n):
    from tests.support.db import incidents

    return sum(1 for i in await incidents(bot) if i.status == "resolved") >= n


async def test_stats_answers_with_numbers_and_uploads_the_chart(bot):
    first = await declare(bot, "P1 Site down", user=ALICE)
    bot.clock.advance(minutes=4)
    await bot.sender.command("ack", channel=first.channel_id, user="UPRIMARY1")
    await until(lambda: events(bot, 1, "acknowledged"), what="the acknowledgement")
    bot.clock.advance(minutes=26)
    await resolve(bot, first.channel_id)
    await until(lambda: _resolved_count(bot, 1), what="the first resolve")
    await drained(bot)
    second = await declare(bot, "P1 Checkout down", user=ALICE)
    bot.clock.advance(minutes=90)
    await resolve(bot, second.channel_id)
    await until(lambda: _resolved_count(bot, 2), what="the second resolve")
    await drained(bot)

    await bot.sender.command("stats 90d", user=ALICE, channel="CGENERAL1")
    [reply] = await bot.slack.wait_for_response(
        where=lambda r: "incidents in the last 90 days" in r.get("text", "")
    )
    assert reply["response_type"] == "ephemeral"
    text = block_text(reply["blocks"])
    assert "*2 incidents* (+2 on the period before (0))" in text
    # MTTR 30 min and 90 min: median 1h, p90 (nearest rank, 2nd of 2) 1h 30m.
    assert "MTTR median *1h* · p90 1h 30m" in text
    assert "MTTA median *4m* · p90 4m" in text
    assert "P1 — Critical*: 2" in text
    assert "2 not yet due" in text

    [complete] = await bot.slack.wait_for(
        "files.completeUploadExternal", where=lambda c: c.args.get("channel_id") == "CGENERAL1"
    )
    [entry] = complete.args["files"]
    uploaded = bot.slack.files[entry["id"]]
    assert uploaded.name == "incidents-90d.png" and uploaded.completed
    assert png_size(uploaded.content) == (1200, 600)
    assert f"<@{ALICE}>" in complete.args["initial_comment"]


async def test_stats_with_a_bad_period_says_which_are_allowed(bot):
    response = await bot.sender.command("stats 2w", user=ALICE)
    reply = response.json()  # a parse error is answered in the acknowledgement itself
    assert reply["response_type"] == "ephemeral"
    assert "Unknown period `2w`: use 30d, 90d or 1y" in reply["text"]
    assert bot.slack.calls_to("files.getUploadURLExternal") == []


async def test_chart_refused_in_a_channel_the_bot_is_not_in_is_explained(bot):
    bot.slack.fail("files.completeUploadExternal", "not_in_channel")
    await bot.sender.command("stats", user=ALICE, channel="CGENERAL1")
    replies = await bot.slack.wait_for_response(count=2)
    assert "0 incidents in the last 30 days" in replies[0]["text"]
    assert "could not post the chart here (not_in_channel)" in replies[1]["text"]
    assert "<#CINCIDENTS>" in replies[1]["text"]


async def test_stats_do_not_tell_which_runbook_or_actions_a_private_incident_used(ops_bot):
    # A breach is private: #incidents shows its number and severity, never its runbook.
    await declare(ops_bot, "P1 Unauthorized access --runbook data-breach", user=ALICE)
    breach = await until(lambda: _with_runbook_message(ops_bot, 1), what="the runbook message")
    assert breach.private
    await press(ops_bot, breach.channel_id, "Force logout (dry run)")
    await until(lambda: events(ops_bot, 1, "action"), what="the dry run's result")
    public = await declare(ops_bot, "P2 Site slow --runbook site-down", user=ALICE)
    await until(lambda: _with_runbook_message(ops_bot, public.id), what="the runbook message")
    await press(ops_bot, public.channel_id, "Check health")
    await until(lambda: events(ops_bot, public.id, "action"), what="the health check's result")
    await drained(ops_bot)
    ops_bot.clock.advance(minutes=1)

    await ops_bot.sender.command("stats", user="UCAROL1", channel="CGENERAL1")
    [reply] = await ops_bot.slack.wait_for_response(
        where=lambda r: "incidents in the last 30 days" in r.get("text", "")
    )
    text = block_text(reply["blocks"])
    assert "*2 incidents*" in text  # the breach is still counted, as #incidents shows it
    assert "`site-down` (1 incidents)" in text and "Check health (1 runs)" in text
    assert "data-breach" not in text and "Force logout" not in text


async def _with_runbook_message(bot, number):
    found = await incident(bot, number)
    return found if found.runbook_ts else None
