"""Who may do what (README's authorization table), enforced with a reason."""

from __future__ import annotations

from tests.conftest import PRIMARY
from tests.support.db import drained, events, incident, until
from tests.support.flows import declare


async def answer(bot, text, *, user, channel):
    before = len(bot.slack.responses)
    await bot.sender.command(text, user=user, channel=channel)
    await bot.slack.wait_for_response(count=before + 1)
    await drained(bot)
    return bot.slack.responses[-1]["text"]


async def test_steering_is_for_the_people_leading_the_incident(start_bot):
    bot = await start_bot(incident_approvers="UAPPROVER1")
    inc = await declare(bot, "P2 Checkout errors")  # declared (and commanded) by UALICE1
    channel = inc.channel_id
    for text in ("severity P1", "status identified", "commander <@UMALLORY1>", "resolve"):
        reply = await answer(bot, text, user="UMALLORY1", channel=channel)
        assert "Only the people leading INC-1 may" in reply, text
        assert "<@UALICE1>" in reply
    assert bot.slack.calls_to("views.open") == []  # no resolve form for them
    assert [e.kind for e in await events(bot, 1)] == ["declared"]

    # Anyone may note, update and acknowledge.
    await answer(bot, "note I see 500s too", user="UMALLORY1", channel=channel)
    await answer(bot, "ack", user="UMALLORY1", channel=channel)
    assert [e.kind for e in await events(bot, 1)] == ["declared", "note", "acknowledged"]

    # On-call and approvers may steer, as may the commander.
    await answer(bot, "severity P1", user=PRIMARY, channel=channel)
    await answer(bot, "status identified", user="UAPPROVER1", channel=channel)
    await answer(bot, "commander <@UBOB1>", user="UALICE1", channel=channel)
    await until(lambda: events(bot, 1, "commander"))
    stored = await incident(bot, 1)
    assert (stored.severity, stored.status, stored.commander_id) == ("P1", "identified", "UBOB1")
    # The new commander leads now, and the declarer still may.
    reply = await answer(bot, "status monitoring", user="UBOB1", channel=channel)
    assert "now *Monitoring*" in reply
    reply = await answer(bot, "severity P2", user="UALICE1", channel=channel)
    assert "now *P2 — High*" in reply


async def test_without_on_call_or_approvers_anyone_may_steer(start_bot):
    bot = await start_bot(oncall_primary="", oncall_backup="")
    inc = await declare(bot, "P2 Checkout errors")
    reply = await answer(bot, "status identified", user="UMALLORY1", channel=inc.channel_id)
    assert "now *Identified*" in reply
