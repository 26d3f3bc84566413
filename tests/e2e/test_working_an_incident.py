"""Working an incident from its channel: severity, status, commander, notes, messages."""

from __future__ import annotations

import json

from tests.conftest import BOTH_DATABASES, INCIDENTS
from tests.support.db import drained, events, incident, incidents, until
from tests.support.flows import block_text, declare, posts_to


async def run(bot, text, *, channel, user="UALICE1", responses=None):
    before = len(bot.slack.responses)
    response = await bot.sender.command(text, channel=channel, user=user)
    assert response.status_code == 200
    await bot.slack.wait_for_response(count=before + 1)
    await drained(bot)
    return bot.slack.responses[-1]


@BOTH_DATABASES
async def test_changes_are_announced_in_channel_and_thread_and_update_root_and_header(bot):
    inc = await declare(bot, "P2 Checkout errors")
    channel = inc.channel_id

    await run(bot, "status identified", channel=channel)
    await run(bot, "severity P1", channel=channel)
    await run(bot, "commander <@UCAROL1|carol>", channel=channel)
    await run(bot, "note rolled back deploy 4512", channel=channel)

    in_channel = [
        c.args["text"] for c in posts_to(bot.slack, channel) if "is paged" not in c.args["text"]
    ][1:]  # after the header
    in_thread = [c.args["text"] for c in posts_to(bot.slack, INCIDENTS, inc.root_ts)]
    for texts in (in_channel, in_thread):
        assert len(texts) == 4
        assert "Investigating → *Identified*" in texts[0]
        assert "raised severity P2 → *P1*" in texts[1]
        assert "to <@UCAROL1>" in texts[2]
        assert "rolled back deploy 4512" in texts[3]

    root = bot.slack.channels[INCIDENTS].message(inc.root_ts)
    root_text = block_text(root["blocks"])
    assert "INC-1 · P1 · Checkout errors" in root_text and "Identified" in root_text
    assert "<@UCAROL1>" in root_text
    header = bot.slack.channels[channel].message(inc.header_ts)
    assert "P1 — Critical" in block_text(header["blocks"])
    assert bot.slack.channels[channel].topic.startswith("P1 · Identified · Commander: <@UCAROL1>")
    assert "UCAROL1" in bot.slack.channels[channel].members

    stored = await incident(bot, 1)
    assert (stored.severity, stored.status, stored.commander_id) == ("P1", "identified", "UCAROL1")
    kinds = [e.kind for e in await events(bot, 1)]
    assert kinds == ["declared", "status", "severity", "commander", "note"]


async def test_p3_raised_to_p1_gets_a_channel(bot):
    await declare(bot, "P3 Emails bouncing")
    await run(bot, "severity INC-1 P1", channel="CGENERAL1")
    stored = await incident(bot, 1)
    assert stored.channel_id and stored.channel_name.startswith("inc-20260314-1-emails-bouncing")
    assert bot.slack.calls_to("pins.add")


async def test_channel_commands_outside_an_incident_channel_are_refused(bot):
    reply = await run(bot, "note something happened", channel="CGENERAL1")
    assert reply["response_type"] == "ephemeral"
    assert "not an incident channel" in reply["text"]
    assert "/incident note [INC-<n>] <text>" in reply["text"]
    assert await incidents(bot) == []


async def test_unknown_incident_and_repeated_state_say_so(bot):
    inc = await declare(bot, "P2 Slow pages")
    reply = await run(bot, "note INC-9 hello", channel="CGENERAL1")
    assert "There is no incident INC-9." in reply["text"]
    reply = await run(bot, "status investigating", channel=inc.channel_id)
    assert "already Investigating" in reply["text"]
    assert [e.kind for e in await events(bot, 1)] == ["declared"]


async def test_bad_input_gets_usage_and_creates_nothing(bot):
    cases = {
        "frobnicate": "Unknown subcommand `frobnicate`",
        "declare P7 Bad": "Unknown severity `P7`",
        "declare P1": "The title is empty",
        "declare P1 " + "x" * 151: "keep it to 150",
        "severity P9": "Unknown severity `P9`",
        "status sleeping": "Unknown status `sleeping`",
        "commander carol": "is not a Slack user",
        "note": "The note is empty",
    }
    for text, expected in cases.items():
        response = await bot.sender.command(text)
        assert response.status_code == 200
        body = response.json()
        assert body["response_type"] == "ephemeral", text
        assert expected in body["text"], (text, body["text"])
        assert "/incident" in body["text"], text  # usage or help is included
    assert await incidents(bot) == []
    assert bot.slack.calls_to("chat.postMessage") == []


async def test_help_and_list(bot):
    response = await bot.sender.command("help")
    text = response.json()["text"]
    for sub in (
        "declare",
        "status",
        "severity",
        "note",
        "commander",
        "timeline",
        "resolve",
        "list",
        "runbook",
        "help",
    ):
        assert f"/incident {sub}" in text
    await declare(bot, "P1 Site down")
    await declare(bot, "P3 Analytics lag")
    reply = await run(bot, "list", channel="CGENERAL1")
    listing = block_text(reply["blocks"])
    assert "Open incidents (2)" in listing
    assert listing.index("INC-1") < listing.index("INC-2")


@BOTH_DATABASES
async def test_messages_edits_deletes_and_pins_become_timeline(bot):
    inc = await declare(bot, "P1 Site down")
    channel = inc.channel_id

    async def messages():
        return await events(bot, 1, "message")

    message = {
        "type": "message",
        "channel": channel,
        "user": "UBOB1",
        "text": "db cpu 100%",
        "ts": "1773480700.000100",
    }
    assert (await bot.sender.event(message, event_id="Ev1")).status_code == 200
    await until(messages, what="the message row")
    # Slack retries: same event_id again, marked as a retry. Recorded once.
    assert (await bot.sender.event(message, event_id="Ev1", retry=1)).status_code == 200
    await bot.sender.event(
        {
            "type": "message",
            "channel": channel,
            "bot_id": "B1",
            "subtype": "bot_message",
            "text": "bot noise",
            "ts": "1773480701.1",
        }
    )
    await bot.sender.event(
        {
            "type": "message",
            "channel": "CGENERAL1",
            "user": "UBOB1",
            "text": "unrelated",
            "ts": "1773480702.1",
        }
    )
    await bot.sender.event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": channel,
            "message": {
                "ts": "1773480700.000100",
                "user": "UBOB1",
                "text": "db cpu 100% (replica)",
            },
            "previous_message": {"ts": "1773480700.000100", "text": "db cpu 100%"},
            "ts": "1773480703.1",
        }
    )
    await bot.sender.event(
        {
            "type": "reaction_added",
            "user": "UALICE1",
            "reaction": "pushpin",
            "item": {"type": "message", "channel": channel, "ts": "1773480700.000100"},
        }
    )
    await until(lambda: _first_is(messages, lambda r: r.key and r.history), what="edit + pin")
    second = {
        "type": "message",
        "channel": channel,
        "user": "UBOB1",
        "text": "oops",
        "ts": "1773480704.000100",
    }
    await bot.sender.event(second)
    await until(lambda: _count(messages, 2), what="second message")
    await bot.sender.event(
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": channel,
            "deleted_ts": "1773480704.000100",
            "ts": "1773480705.1",
        }
    )
    await until(lambda: _first_is(messages, lambda r: r.deleted, index=1), what="deletion")

    rows = await messages()
    assert [r.slack_ts for r in rows] == ["1773480700.000100", "1773480704.000100"]
    first, deleted = rows
    assert first.text == "db cpu 100% (replica)" and json.loads(first.history) == ["db cpu 100%"]
    assert first.key is True and first.actor == "UBOB1"
    assert deleted.deleted is True and deleted.text == "oops"


async def _first_is(fetch, predicate, index=0):
    rows = await fetch()
    return len(rows) > index and predicate(rows[index])


async def _count(fetch, n):
    return len(await fetch()) == n


async def test_thread_replies_in_incidents_are_recorded_for_p3(bot):
    inc = await declare(bot, "P3 Email bouncing")
    await bot.sender.event(
        {
            "type": "message",
            "channel": INCIDENTS,
            "user": "UBOB1",
            "text": "top level chatter",
            "ts": "1773480801.1",
        }
    )
    await bot.sender.event(
        {
            "type": "message",
            "channel": INCIDENTS,
            "user": "UBOB1",
            "text": "resend is degraded",
            "ts": "1773480800.1",
            "thread_ts": inc.root_ts,
        }
    )
    await until(lambda: events(bot, 1, "message"), what="the thread reply")
    rows = await events(bot, 1, "message")
    assert [r.text for r in rows] == ["resend is degraded"]


async def test_timeline_is_paged_and_ephemeral(bot):
    inc = await declare(bot, "P2 Flaky API")
    for i in range(25):
        await bot.sender.command(f"note step {i}", channel=inc.channel_id)
        await bot.slack.wait_for_response(count=i + 2)  # one at a time: a stable order
    reply = await run(bot, "timeline", channel=inc.channel_id)
    assert reply["response_type"] == "ephemeral"
    text = block_text(reply["blocks"])
    assert "page 1 of 2" in text and "step 18" in text and "step 19" not in text
    assert "/incident timeline INC-1 2" in text
    reply = await run(bot, "timeline 2", channel=inc.channel_id)
    text = block_text(reply["blocks"])
    assert "page 2 of 2" in text and "step 24" in text and "step 18" not in text
    reply = await run(bot, "timeline 3", channel=inc.channel_id)
    assert "has 2 page(s)" in reply["text"]


@BOTH_DATABASES
async def test_a_redelivered_event_id_is_processed_once(bot):
    inc = await declare(bot, "P1 Site down")
    first = {
        "type": "message",
        "channel": inc.channel_id,
        "user": "UBOB1",
        "text": "one",
        "ts": "1773480700.000100",
    }
    await bot.sender.event(first, event_id="EvSame")
    await until(lambda: events(bot, 1, "message"))
    # Same event_id, different content: only a retry can look like this, so it is ignored.
    await bot.sender.event(
        {**first, "ts": "1773480701.000100", "text": "two"}, event_id="EvSame", retry=1
    )
    await bot.sender.event({**first, "ts": "1773480702.000100", "text": "sentinel"})
    await until(lambda: _count(lambda: events(bot, 1, "message"), 2), what="the sentinel")
    assert [e.text for e in await events(bot, 1, "message")] == ["one", "sentinel"]


async def test_private_incident_is_only_worked_from_its_own_channel(bot):
    inc = await declare(bot, "P3 Leaked API key --private")
    assert inc.private and inc.channel_id  # private incidents always get a channel
    assert bot.slack.channels[inc.channel_id].is_private
    await run(bot, "note INC-1 rotated the key", channel=inc.channel_id)
    reply = await run(bot, "timeline INC-1", channel="CGENERAL1")
    assert "INC-1 is private" in reply["text"]
    reply = await run(bot, "note INC-1 sneaky", channel="CGENERAL1")
    assert "INC-1 is private" in reply["text"]
    assert [e.kind for e in await events(bot, 1)] == ["declared", "note"]
    # #incidents has the root message only: nothing of the story.
    assert posts_to(bot.slack, INCIDENTS, inc.root_ts) == []
    root = bot.slack.channels[INCIDENTS].message(inc.root_ts)
    assert "Leaked" not in root["text"] + str(root["blocks"])
    listing = block_text((await run(bot, "list", channel="CGENERAL1"))["blocks"])
    assert "private incident" in listing and "Leaked" not in listing


@BOTH_DATABASES
async def test_concurrent_changes_apply_once(bot):
    import asyncio

    inc = await declare(bot, "P2 Slow pages")
    await asyncio.gather(
        *(
            bot.sender.command("status identified", channel=inc.channel_id, user=user)
            for user in ("UALICE1", "UBOB1", "UCAROL1")
        )
    )
    await bot.slack.wait_for_response(count=4)
    await drained(bot)
    assert len(await events(bot, 1, "status")) == 1


async def test_an_edit_that_overtakes_its_message_is_still_recorded(bot):
    inc = await declare(bot, "P1 Site down")
    await bot.sender.event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": inc.channel_id,
            "message": {"ts": "1773480900.000100", "user": "UBOB1", "text": "edited first"},
            "ts": "1773480901.1",
        }
    )
    await until(lambda: events(bot, 1, "message"), what="the row from the edit")
    await bot.sender.event(
        {
            "type": "message",
            "channel": inc.channel_id,
            "user": "UBOB1",
            "text": "original",
            "ts": "1773480900.000100",
        }
    )
    await bot.sender.event(
        {
            "type": "message",
            "channel": inc.channel_id,
            "user": "UBOB1",
            "text": "sentinel",
            "ts": "1773480902.000100",
        }
    )
    await until(lambda: _count(lambda: events(bot, 1, "message"), 2), what="the sentinel")
    assert [e.text for e in await events(bot, 1, "message")] == ["edited first", "sentinel"]
