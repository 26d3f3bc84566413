"""The App Home tab over signed app_home_opened events: what each viewer may see, what waits
on them, the Declare incident button, and debounced republishing when an incident changes."""

from __future__ import annotations

from slack_sdk.models.views import View

from tests.conftest import APPROVERS, BOTH_DATABASES, PRIMARY
from tests.support.db import drained, incident, outbox, outbox_pass, until
from tests.support.flows import block_text, declare
from tests.support.runbook_ui import buttons
from tests.support.slack_sender import select_value, text_value

ALICE, BOB = "UALICE1", "UBOB1"

pytestmark = BOTH_DATABASES


async def open_home(bot, user, tab="home"):
    response = await bot.sender.event(
        {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": tab}
    )
    assert response.status_code == 200


async def published(bot, user, count=1):
    calls = await bot.slack.wait_for(
        "views.publish", count=count, where=lambda c: c.args.get("user_id") == user
    )
    view = calls[-1].args["view"]
    # What Slack would accept: the SDK's own model validates types and limits.
    View(**view).validate_json()
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    return view


def publishes_for(bot, user):
    return [c for c in bot.slack.calls_to("views.publish") if c.args.get("user_id") == user]


async def test_home_lists_open_incidents_most_severe_first_with_a_declare_button(bot):
    await declare(bot, "P3 Search is slow")
    await declare(bot, "P1 Checkout returns 500")
    await open_home(bot, BOB)
    view = await published(bot, BOB)
    text = block_text(view["blocks"])
    assert "Open incidents (2)" in text
    assert text.index("INC-2") < text.index("INC-1"), "P1 must come before P3"
    p1 = await incident(bot, 2)
    assert f"<#{p1.channel_id}>" in text and "commander <@UALICE1>" in text
    assert "open 0 min" in text and "No status update yet" in text
    assert "Declare incident" in buttons(view["blocks"])
    # The Messages tab is not ours to draw.
    await open_home(bot, "UCAROL1", tab="messages")
    await open_home(bot, "UDAVE1")
    await published(bot, "UDAVE1")
    assert publishes_for(bot, "UCAROL1") == []


async def test_private_incident_is_shown_only_to_its_channel_members(bot):
    await declare(bot, "P2 Leaked customer export --private", user=ALICE)
    await declare(bot, "P3 Slow search", user=BOB)
    inc = await incident(bot, 1)
    assert bot.slack.channels[inc.channel_id].is_private
    for user in (BOB, ALICE, PRIMARY):
        await open_home(bot, user)
    outsider = block_text((await published(bot, BOB))["blocks"])
    assert "Leaked customer export" not in outsider and "INC-1" not in outsider
    assert "Open incidents (1)" in outsider and "INC-2" in outsider
    for member in (ALICE, PRIMARY):  # the declarer, and on-call who was invited
        seen = block_text((await published(bot, member))["blocks"])
        assert "Leaked customer export" in seen and "Open incidents (2)" in seen
    members_calls = bot.slack.calls_to("conversations.members")
    assert members_calls and all(c.args["channel"] == inc.channel_id for c in members_calls)
    # Cached: three viewers, one question to Slack.
    assert len(members_calls) == 1


async def test_pages_waiting_for_acknowledgement_are_at_the_top(bot):
    await declare(bot, "P1 Site down")
    await open_home(bot, PRIMARY)
    view = await published(bot, PRIMARY)
    first = view["blocks"][2]["text"]["text"]
    assert first.startswith("*Waiting on you*")
    assert "Acknowledge the page for *INC-1* (Site down)" in first
    await open_home(bot, BOB)
    assert "Waiting on you" not in block_text((await published(bot, BOB))["blocks"])


async def test_approvals_wait_on_approvers_but_not_on_the_requester(ops_bot):
    from tests.e2e.test_runbooks import declared_with, open_maintenance_request

    inc = await declared_with(ops_bot, "site-down", "P2", "Checkout down")
    await open_maintenance_request(ops_bot, inc.channel_id, user=APPROVERS[0])
    await drained(ops_bot)
    await open_home(ops_bot, APPROVERS[1])
    waiting = block_text((await published(ops_bot, APPROVERS[1]))["blocks"])
    assert "Approve or deny *Enable maintenance mode* for *INC-1*" in waiting
    assert f"asked by <@{APPROVERS[0]}>" in waiting
    await open_home(ops_bot, APPROVERS[0])  # the requester may not approve their own
    assert "Approve or deny" not in block_text((await published(ops_bot, APPROVERS[0]))["blocks"])


async def test_postmortem_owed_by_the_commander_after_resolve(bot):
    inc = await declare(bot, "P2 Login broken", user=ALICE)
    await bot.sender.command("resolve", channel=inc.channel_id, user=ALICE)
    view = (await bot.slack.wait_for("views.open"))[-1].args["view"]
    await bot.sender.submit_view(view, {"root_cause": text_value("Expired cert")}, user=ALICE)
    await until(lambda: _resolved(bot), what="the resolve")
    await drained(bot)
    bot.clock.advance(hours=25)
    await open_home(bot, ALICE)
    text = block_text((await published(bot, ALICE))["blocks"])
    assert "The postmortem of *INC-1* (Login broken)" in text and "is overdue by 1h" in text
    assert "No open incidents" in text


async def _resolved(bot):
    return (await incident(bot, 1)).status == "resolved"


async def test_declare_button_opens_the_declare_form(bot):
    await open_home(bot, BOB)
    view = await published(bot, BOB)
    button = buttons(view["blocks"])["Declare incident"]
    await bot.sender.interaction(
        {
            "type": "block_actions",
            "user": {"id": BOB},
            "trigger_id": "trigger-home",
            "container": {"type": "view", "view_id": "V1"},
            "view": {"id": "V1", "type": "home"},
            "actions": [{**button, "block_id": "b", "action_ts": "1.1"}],
        }
    )
    [opened] = await bot.slack.wait_for("views.open")
    form = opened.args["view"]
    assert form["callback_id"] == "incident_declare" and opened.args["trigger_id"] == "trigger-home"
    await bot.sender.submit_view(
        form, {"title": text_value("Emails not sent"), "severity": select_value("P3")}, user=BOB
    )
    dm = await bot.slack.wait_for("chat.postMessage", where=lambda c: c.args["channel"] == BOB)
    assert "INC-1" in dm[-1].args["text"]


async def test_a_change_republishes_debounced_and_only_for_viewers_who_can_see_it(bot):
    public = await declare(bot, "P2 Checkout slow", user=ALICE)
    secret = await declare(bot, "P2 Breach suspected --private", user=ALICE)
    for user in (ALICE, BOB):
        await open_home(bot, user)
        await published(bot, user)
    bot.slack.reset_calls()

    # Three changes in a row: nothing is republished before the debounce has passed...
    for status in ("identified", "monitoring"):
        await bot.sender.command(f"status {status}", channel=public.channel_id, user=ALICE)
    await bot.sender.command("note looking at the CDN", channel=public.channel_id, user=BOB)
    await until(lambda: _status_is(bot, 1, "monitoring"), what="the last status change")
    await until(lambda: _waiting_publishes(bot, 2), what="publishes queued for both viewers")
    await outbox_pass(bot)
    assert bot.slack.calls_to("views.publish") == []
    # ...then once per viewer, showing the last state.
    bot.clock.advance(seconds=5)
    for user in (ALICE, BOB):
        text = block_text((await published(bot, user))["blocks"])
        assert "Monitoring" in text
    await outbox_pass(bot)
    assert len(publishes_for(bot, ALICE)) == 1 and len(publishes_for(bot, BOB)) == 1

    # A change to the private incident republishes only its members' Home.
    bot.slack.reset_calls()
    await bot.sender.command("status identified", channel=secret.channel_id, user=ALICE)
    await until(lambda: _waiting_publishes(bot, 1), what="a publish queued for alice")
    bot.clock.advance(seconds=5)
    assert "Breach suspected" in block_text((await published(bot, ALICE))["blocks"])
    await drained(bot)
    assert publishes_for(bot, BOB) == []


async def _waiting_publishes(bot, count):
    rows = [r for r in await outbox(bot) if r.op == "publish_home" and r.state == "pending"]
    return len(rows) >= count


async def _status_is(bot, number, status):
    return (await incident(bot, number)).status == status


async def test_a_throttled_publish_on_opening_is_retried_by_the_outbox(bot):
    bot.slack.fail("views.publish", status=429, retry_after=1)
    await open_home(bot, BOB)
    calls = await bot.slack.wait_for("views.publish", count=2)
    assert calls[0].failed == "ratelimited" and not calls[1].failed
    assert calls[1].args["user_id"] == BOB
    await drained(bot)
