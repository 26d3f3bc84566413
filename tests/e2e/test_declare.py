"""Declaring incidents over signed HTTP requests, as Slack sends them."""

from __future__ import annotations

import time

from tests.conftest import BACKUP, BOTH_DATABASES, INCIDENTS, PRIMARY
from tests.support.db import drained, events, incidents
from tests.support.flows import block_text, declare, mrkdwn_text, posts_to
from tests.support.slack_sender import select_value, text_value

pytestmark = BOTH_DATABASES


async def test_p1_gets_channel_invites_topic_pinned_header_and_bookmark(bot):
    incident = await declare(bot, "P1 Site down: 503 on every page")
    slack = bot.slack

    assert incident.id == 1 and incident.severity == "P1" and incident.status == "investigating"
    assert incident.commander_id == "UALICE1"

    create = slack.calls_to("conversations.create")
    assert [c.args["name"] for c in create] == ["inc-20260314-1-site-down-503-on-every-page"]
    channel_id = incident.channel_id
    assert channel_id and slack.channels[channel_id].name == create[0].args["name"]

    invited = set(slack.calls_to("conversations.invite")[0].args["users"].split(","))
    assert invited == {"UALICE1", PRIMARY, BACKUP}

    topic = slack.calls_to("conversations.setTopic")[-1].args["topic"]
    assert topic.startswith("P1 · Investigating · Commander: <@UALICE1>")

    header = posts_to(slack, channel_id)[0]
    header_text = block_text(header.args["blocks"])
    for expected in ("P1 — Critical", "Investigating", "<@UALICE1>", "Immediate (24/7)"):
        assert expected in header_text
    assert slack.calls_to("pins.add")[0].args["timestamp"] == incident.header_ts

    root = posts_to(slack, INCIDENTS)[0]
    assert "INC-1 · P1 · Site down: 503 on every page" in block_text(root.args["blocks"])
    assert incident.root_ts and slack.channels[INCIDENTS].message(incident.root_ts)
    bookmark = slack.calls_to("bookmarks.add")[0].args
    assert bookmark["channel_id"] == channel_id
    assert incident.root_ts.replace(".", "") in bookmark["link"]

    declared = await events(bot, 1, "declared")
    assert len(declared) == 1 and declared[0].actor == "UALICE1"


async def test_p2_invites_primary_but_not_backup(bot):
    await declare(bot, "P2 Login broken")
    invited = set(bot.slack.calls_to("conversations.invite")[0].args["users"].split(","))
    assert invited == {"UALICE1", PRIMARY}


async def test_p3_lives_as_a_thread_in_incidents(bot):
    incident = await declare(bot, "P3 Analytics missing")
    assert bot.slack.calls_to("conversations.create") == []
    assert incident.channel_id is None and incident.root_ts

    await bot.sender.command("note INC-1 dashboards lag by an hour")
    await bot.slack.wait_for_response(count=2)
    await drained(bot)
    replies = posts_to(bot.slack, INCIDENTS, incident.root_ts)
    assert len(replies) == 1 and "dashboards lag by an hour" in replies[0].args["text"]


async def test_taken_channel_name_gets_a_suffix(bot):
    bot.slack.add_channel("CTAKEN1", "inc-20260314-1-db-on-fire")
    incident = await declare(bot, "P1 DB on fire")
    names = [c.args["name"] for c in bot.slack.calls_to("conversations.create")]
    assert names == ["inc-20260314-1-db-on-fire", "inc-20260314-1-db-on-fire-2"]
    assert incident.channel_name == "inc-20260314-1-db-on-fire-2"


async def test_channel_name_is_slugged_and_at_most_80_characters(bot):
    title = "Élan Çafé — checkout & PAYMENTS fail!! " + "very long words " * 10
    incident = await declare(bot, f"P2 {title[:150]}")
    name = incident.channel_name
    assert name.startswith("inc-20260314-1-elan-cafe-checkout-payments-fail-very-long")
    assert len(name) <= 80 and set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


async def test_declare_without_arguments_opens_the_form_and_submitting_declares(bot):
    response = await bot.sender.command("declare", channel="CGENERAL1")
    assert response.status_code == 200
    opened = (await bot.slack.wait_for("views.open"))[0]
    view = opened.args["view"]
    labels = block_text(view["blocks"])
    assert view["callback_id"] == "incident_declare"
    assert "Title" in labels and "Severity" in labels and "Description" in labels

    submitted = await bot.sender.submit_view(
        view,
        {
            "title": text_value("Payments failing"),
            "severity": select_value("P2"),
            "description": text_value("Stripe webhooks 500 since 09:10"),
        },
    )
    assert submitted.status_code == 200 and submitted.text == ""
    ephemeral = (await bot.slack.wait_for("chat.postEphemeral"))[0]
    assert ephemeral.args["channel"] == "CGENERAL1" and "INC-1" in ephemeral.args["text"]
    await drained(bot)
    [incident] = await incidents(bot)
    assert incident.severity == "P2" and incident.description == "Stripe webhooks 500 since 09:10"


async def test_declare_with_title_but_no_severity_opens_a_prefilled_form(bot):
    await bot.sender.command("declare Checkout is slow")
    view = (await bot.slack.wait_for("views.open"))[0].args["view"]
    title_block = next(b for b in view["blocks"] if b["block_id"] == "title")
    assert title_block["element"]["initial_value"] == "Checkout is slow"
    assert await incidents(bot) == []


async def test_form_errors_are_shown_in_the_form_and_nothing_is_stored(bot):
    await bot.sender.command("declare")
    view = (await bot.slack.wait_for("views.open"))[0].args["view"]
    response = await bot.sender.submit_view(
        view, {"title": text_value(""), "severity": select_value(None)}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"title", "severity"}
    assert await incidents(bot) == []


async def test_command_is_acknowledged_fast_even_when_slack_api_is_slow(bot):
    bot.slack.latency = 2.0
    started = time.monotonic()
    response = await bot.sender.command("declare P1 Everything is slow")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    # Slack's limit is 3 s; each Web API call here takes 2 s, so only an ack-first bot passes.
    assert elapsed < 1.5, f"ack took {elapsed:.2f}s"
    bot.slack.latency = 0
    # Everything still happens, just later.
    await bot.slack.wait_for("conversations.create", timeout=15)
    await bot.slack.wait_for("pins.add", timeout=15)


async def test_similar_open_incident_asks_before_declaring(bot):
    first = await declare(bot, "P1 Site down for all users")
    await bot.sender.command("declare P1 site is down for users")
    prompt = await bot.slack.wait_for_response(count=2)
    buttons = [e for b in prompt[-1]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["Join INC-1", "Declare anyway"]
    assert len(await incidents(bot)) == 1

    await bot.sender.click("similar_join", buttons[0]["value"], user="UBOB1")
    await bot.slack.wait_for("conversations.invite", where=lambda c: c.args.get("users") == "UBOB1")
    assert "UBOB1" in bot.slack.channels[first.channel_id].members

    await bot.sender.click("similar_declare_anyway", buttons[1]["value"], user="UBOB1")
    await bot.slack.wait_for_response(count=4)
    await drained(bot)
    rows = await incidents(bot)
    assert [r.id for r in rows] == [1, 2]
    assert rows[1].declared_by == "UBOB1" and rows[1].title == "site is down for users"


async def test_mentions_in_titles_cannot_ping_anyone(bot):
    incident = await declare(bot, "P3 <!channel> hi <@U999> & co")
    root = posts_to(bot.slack, INCIDENTS)[0]
    posted = root.args["text"] + mrkdwn_text(root.args["blocks"])
    assert "<!channel>" not in posted and "<@U999>" not in posted
    assert "&lt;!channel&gt;" in posted
    await bot.sender.command("note INC-1 ping <!here> now")
    await bot.slack.wait_for_response(count=2)
    await drained(bot)
    note = posts_to(bot.slack, INCIDENTS, incident.root_ts)[-1].args["text"]
    assert "&lt;!here&gt;" in note and "<!here>" not in note
    assert incident.title == "<!channel> hi <@U999> & co"


async def test_form_offers_runbooks_with_a_suggestion_and_declaring_attaches_it(bot):
    await bot.sender.command("declare Suspected data breach, unauthorized access")
    view = (await bot.slack.wait_for("views.open"))[0].args["view"]
    runbook_block = next(b for b in view["blocks"] if b["block_id"] == "runbook")
    options = [o["value"] for o in runbook_block["element"]["options"]]
    assert len(options) == 8 and "site-down" in options
    assert runbook_block["element"]["initial_option"]["value"] == "data-breach"
    await bot.sender.submit_view(
        view,
        {
            "title": text_value("Suspected data breach"),
            "severity": select_value("P1"),
            "runbook": select_value("data-breach"),
        },
    )
    await bot.slack.wait_for("chat.postEphemeral")
    await drained(bot)
    [incident] = await incidents(bot)
    assert incident.runbook_id == "data-breach" and incident.runbook_ts
    assert incident.private is True
    create = bot.slack.calls_to("conversations.create")[0].args
    assert create["is_private"] in (True, "true", "1")
    # #incidents learns of a private incident, not its details.
    root = posts_to(bot.slack, INCIDENTS)[0]
    assert "breach" not in (root.args["text"] + block_text(root.args["blocks"])).lower()
