"""Clocks, with time moved forward: paging, escalation, reminders, deadlines, restarts."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import BACKUP, BOTH_DATABASES, INCIDENTS, PRIMARY
from tests.support.db import clocks, drained, events, incident, scheduler_pass, until
from tests.support.flows import declare, opened_form, posts_to
from tests.support.runbook_ui import buttons
from tests.support.slack_sender import text_value

pytestmark = BOTH_DATABASES


def dms(slack, user):
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.args.get("channel") == user and not c.failed
    ]


def channel_texts(slack, channel):
    return [m["text"] for m in slack.channels[channel].messages]


async def test_p1_pages_primary_by_dm_and_in_channel_with_acknowledge(bot):
    inc = await declare(bot, "P1 Site down")
    [dm] = dms(bot.slack, PRIMARY)
    assert "You are paged for *INC-1*" in dm.args["text"]
    assert "Acknowledge" in buttons(dm.args["blocks"])
    mention = next(
        c for c in posts_to(bot.slack, inc.channel_id) if f"<@{PRIMARY}> is paged" in c.args["text"]
    )
    assert "Acknowledge" in buttons(mention.args["blocks"])


async def test_escalation_fires_at_15_minutes_and_not_before(bot):
    await declare(bot, "P1 Site down")
    bot.clock.advance(minutes=14, seconds=59)
    await scheduler_pass(bot)
    assert dms(bot.slack, BACKUP) == []
    bot.clock.advance(seconds=1)
    await scheduler_pass(bot)
    [page] = dms(bot.slack, BACKUP)
    assert "escalated: the primary did not acknowledge" in page.args["text"]
    inc = await incident(bot, 1)
    assert BACKUP in bot.slack.channels[inc.channel_id].members
    [escalation] = await events(bot, 1, "escalation")
    assert "No acknowledgement after 15m" in escalation.text and "(late)" not in escalation.text


async def test_acknowledge_button_stops_escalation_and_records_time_to_ack(bot):
    await declare(bot, "P1 Site down")
    bot.clock.advance(minutes=4)
    [dm] = dms(bot.slack, PRIMARY)
    ack = buttons(dm.args["blocks"])["Acknowledge"]
    await bot.sender.click(ack["action_id"], ack["value"], user=PRIMARY, channel=PRIMARY)
    [acked] = await until(lambda: events(bot, 1, "acknowledged"), what="the ack")
    assert "time to acknowledge: 4m" in acked.text
    stored = await incident(bot, 1)
    assert stored.acknowledged_by == PRIMARY
    assert (stored.acknowledged_at - stored.declared_at).total_seconds() == 240
    bot.clock.advance(minutes=20)
    await scheduler_pass(bot)
    assert dms(bot.slack, BACKUP) == []
    assert [c.kind for c in await clocks(bot, 1) if c.state == "pending"] == ["update"]


async def test_incident_ack_command_acknowledges_once(bot):
    inc = await declare(bot, "P2 Login broken")
    await bot.sender.command("ack", channel=inc.channel_id, user="UBOB1")
    await until(lambda: events(bot, 1, "acknowledged"))
    await bot.sender.command("ack", channel=inc.channel_id, user=PRIMARY)
    reply = (
        await bot.slack.wait_for_response(
            count=1, where=lambda r: "Already acknowledged" in r.get("text", "")
        )
    )[0]
    assert "<@UBOB1>" in reply["text"]


async def test_restart_after_the_due_time_fires_once_and_late(start_bot, clock):
    first = await start_bot()
    await declare(first, "P1 Site down")
    await first.running.stop()
    clock.advance(minutes=40)
    second = await start_bot()
    await scheduler_pass(second)
    await scheduler_pass(second)
    escalations = await events(second, 1, "escalation")
    assert len(escalations) == 1 and escalations[0].text.endswith("(late)")
    assert len(dms(second.slack, BACKUP)) == 1


async def test_two_schedulers_on_one_database_fire_once(start_bot, clock):
    one = await start_bot()
    two = await start_bot()  # the same database file: two replicas
    await declare(one, "P1 Site down")
    clock.advance(minutes=16)
    await scheduler_pass(one)
    await scheduler_pass(two)
    await scheduler_pass(one)
    assert len(await events(one, 1, "escalation")) == 1
    assert len(dms(one.slack, BACKUP)) == 1


async def test_update_reminder_and_the_update_form(bot):
    inc = await declare(bot, "P1 Site down")
    await bot.sender.command("ack", channel=inc.channel_id, user=PRIMARY)
    await until(lambda: events(bot, 1, "acknowledged"), what="the ack")
    bot.clock.advance(minutes=30)
    await scheduler_pass(bot)
    reminder = next(
        c
        for c in posts_to(bot.slack, inc.channel_id)
        if "no status update on INC-1 for 30m" in c.args["text"]
    )
    assert f"<@{inc.commander_id}>" in reminder.args["text"]
    button = buttons(reminder.args["blocks"])["Post status update"]
    form = await opened_form(
        bot.slack, bot.sender.click(button["action_id"], button["value"], channel=inc.channel_id)
    )
    draft = form["blocks"][0]["element"]["initial_value"]
    assert draft.startswith("BuildFlow AI is currently experiencing an outage.")
    assert draft.endswith("Current status: Investigating.")

    bot.clock.advance(minutes=5)
    await bot.sender.submit_view(
        form,
        {
            "update_text": text_value("Rolled back; watching"),
            "update_broadcast": {
                "type": "checkboxes",
                "selected_options": [{"value": "broadcast"}],
            },
        },
    )
    thread = await bot.slack.wait_for(
        "chat.postMessage", where=lambda c: c.args.get("reply_broadcast") is True
    )
    assert thread[0].args["thread_ts"] == inc.root_ts
    assert "Rolled back; watching" in thread[0].args["text"]
    await drained(bot)
    assert any("Rolled back; watching" in t for t in channel_texts(bot.slack, inc.channel_id))
    stored = await incident(bot, 1)
    assert stored.last_update == "Rolled back; watching"
    root = bot.slack.channels[INCIDENTS].message(stored.root_ts)
    assert "Rolled back; watching" in str(root["blocks"])
    # The next reminder is 30 minutes after the update, not after the last reminder.
    [pending] = [c for c in await clocks(bot, 1) if c.kind == "update" and c.state == "pending"]
    assert (pending.due_at - stored.last_update_at).total_seconds() == 1800


async def test_status_page_reminder_at_15_minutes_with_the_draft(bot):
    inc = await declare(bot, "P2 Checkout failing")
    bot.clock.advance(minutes=15)
    await scheduler_pass(bot)
    reminder = next(
        c
        for c in posts_to(bot.slack, inc.channel_id)
        if "nothing is on the public status page" in c.args["text"]
    )
    assert "BuildFlow AI is currently experiencing an outage" in reminder.args["text"]
    button = buttons(reminder.args["blocks"])["I posted it"]
    await bot.sender.click(button["action_id"], button["value"], channel=inc.channel_id)
    await until(lambda: events(bot, 1, "status_page"))
    assert (await incident(bot, 1)).status_page_posted_at is not None


async def test_postmortem_reminders_after_resolve_until_done(bot):
    inc = await declare(bot, "P1 Site down")
    form = await opened_form(bot.slack, bot.sender.command("resolve", channel=inc.channel_id))
    await bot.sender.submit_view(form, {"root_cause": text_value("bad deploy")})
    await until(lambda: events(bot, 1, "resolved"))
    pending = {c.kind for c in await clocks(bot, 1) if c.state == "pending"}
    assert pending == {"postmortem_reminder", "postmortem_overdue", "archive"}
    bot.clock.advance(hours=20)
    await scheduler_pass(bot)
    [due_soon] = [e.text for e in await events(bot, 1, "reminder")]
    assert "postmortem of INC-1 is due in 4h" in due_soon
    await bot.sender.command("postmortem done", channel=inc.channel_id)
    await until(lambda: events(bot, 1, "postmortem"))
    bot.clock.advance(hours=5)
    await scheduler_pass(bot)
    assert len(await events(bot, 1, "reminder")) == 1  # no "overdue" after it was shared


async def test_gdpr_clock_from_detection_time_until_notified(bot):
    await bot.sender.command("declare")
    form = (await bot.slack.wait_for("views.open"))[0].args["view"]
    await bot.sender.submit_view(
        form,
        {
            "title": text_value("Customer data exposed"),
            "severity": {"type": "static_select", "selected_option": {"value": "P1"}},
            "runbook": {"type": "static_select", "selected_option": {"value": "data-breach"}},
            "detected_at": text_value("2026-03-14 03:30"),  # six hours before declaring
        },
    )
    await until(lambda: clocks(bot, 1))
    await drained(bot)
    gdpr = [c for c in await clocks(bot, 1) if c.kind.startswith("gdpr")]
    hours = sorted(int((c.due_at - gdpr[0].due_at).total_seconds() // 3600) for c in gdpr)
    assert [c.due_at.strftime("%d %H:%M") for c in sorted(gdpr, key=lambda c: c.due_at)] == [
        "15 03:30",
        "16 03:30",
        "16 21:30",
        "17 02:30",
        "17 03:30",
    ]
    assert hours == [0, 24, 42, 47, 48]
    bot.clock.advance(hours=18)  # 24 h after detection
    await scheduler_pass(bot)
    [first] = [e.text for e in await events(bot, 1, "reminder") if "GDPR" in e.text]
    assert "notified by 2026-03-17 03:30 UTC — 48 h left" in first
    inc = await incident(bot, 1)
    await bot.sender.command("notified", channel=inc.channel_id)
    await until(lambda: events(bot, 1, "notified"))
    bot.clock.advance(hours=60)
    await scheduler_pass(bot)
    assert len([e for e in await events(bot, 1, "reminder") if "GDPR" in e.text]) == 1


async def test_archive_after_seven_days_and_reopen_cancels_it(bot):
    inc = await declare(bot, "P2 Search broken")
    for _ in range(2):
        form = await opened_form(bot.slack, bot.sender.command("resolve", channel=inc.channel_id))
        await bot.sender.submit_view(form, {"root_cause": text_value("index corrupt")})
        await until(lambda: _resolved(bot))
        await drained(bot)
        if not (await events(bot, 1, "status")):
            bot.clock.advance(days=6)
            await bot.sender.command("reopen", channel=inc.channel_id)
            await until(lambda: events(bot, 1, "status"))
            assert not [
                c for c in await clocks(bot, 1) if c.kind == "archive" and c.state == "pending"
            ]
            bot.clock.advance(days=2)
            await scheduler_pass(bot)
            assert bot.slack.calls_to("conversations.archive") == []
    bot.clock.advance(days=7)
    await scheduler_pass(bot)
    [archived] = bot.slack.calls_to("conversations.archive")
    assert archived.args["channel"] == inc.channel_id
    last = channel_texts(bot.slack, inc.channel_id)[-1]
    assert "being archived" in last and "|the postmortem>" in last


async def _resolved(bot):
    return (await incident(bot, 1)).status == "resolved"


async def test_archive_after_zero_turns_archiving_off(start_bot):
    bot = await start_bot(archive_after="0")
    inc = await declare(bot, "P2 Search broken")
    form = await opened_form(bot.slack, bot.sender.command("resolve", channel=inc.channel_id))
    await bot.sender.submit_view(form, {"root_cause": text_value("x")})
    await until(lambda: _resolved(bot))
    assert "archive" not in {c.kind for c in await clocks(bot, 1)}


async def test_p3_response_target_reminds_unless_acknowledged(bot):
    await declare(bot, "P3 Emails bouncing")
    bot.clock.advance(hours=1, minutes=59)
    await scheduler_pass(bot)
    assert await events(bot, 1, "reminder") == []
    bot.clock.advance(minutes=1)
    await scheduler_pass(bot)
    [missed] = await events(bot, 1, "reminder")
    assert "Response target (< 2 hours) passed" in missed.text


async def test_clocks_command_shows_due_times_in_utc_and_the_viewers_zone(bot):
    inc = await declare(bot, "P1 Site down")
    bot.slack.users["UALICE1"] = {"tz": "America/New_York"}
    await bot.sender.command("clocks", channel=inc.channel_id)
    reply = (await bot.slack.wait_for_response(count=2))[-1]["text"]
    assert "Escalate to the backup engineer: 2026-03-14 09:45 UTC" in reply
    assert "05:45 your time (America/New_York)" in reply
    assert "Status update reminder: 2026-03-14 10:00 UTC" in reply


async def test_p3_acknowledged_in_time_gets_no_response_reminder(bot):
    inc = await declare(bot, "P3 Emails bouncing")
    await bot.sender.command("ack INC-1", user="UBOB1")
    await until(lambda: events(bot, 1, "acknowledged"), what="the ack")
    bot.clock.advance(hours=3)
    await scheduler_pass(bot)
    assert await events(bot, 1, "reminder") == []
    assert inc.channel_id is None


async def test_raising_a_p3_to_p1_pages_and_starts_the_p1_clocks(bot):
    await declare(bot, "P3 Emails bouncing")
    assert dms(bot.slack, PRIMARY) == []
    bot.clock.advance(minutes=20)
    await bot.sender.command("severity INC-1 P1")
    await until(lambda: events(bot, 1, "severity"))
    await drained(bot)
    assert len(dms(bot.slack, PRIMARY)) == 1
    await scheduler_pass(bot)
    pending = {c.kind: c for c in await clocks(bot, 1) if c.state == "pending"}
    assert set(pending) == {"escalate", "update"}
    assert pending["escalate"].due_at == bot.clock.now() + timedelta(minutes=15)
    # Open 20 minutes with nothing on the status page: the P1 rule applies at once.
    inc = await incident(bot, 1)
    texts = [m["text"] for m in bot.slack.channels[inc.channel_id].messages]
    assert any("has been open 20m and nothing is on the public status page" in t for t in texts)


async def test_p1_to_p2_takes_the_p2_update_interval(start_bot):
    bot = await start_bot(update_reminder_p1="20m", update_reminder_p2="45m")
    inc = await declare(bot, "P1 Site down")
    [update] = [c for c in await clocks(bot, 1) if c.kind == "update" and c.state == "pending"]
    assert update.due_at == bot.clock.now() + timedelta(minutes=20)
    await bot.sender.command("severity P2", channel=inc.channel_id)
    await until(lambda: events(bot, 1, "severity"))
    [update] = [c for c in await clocks(bot, 1) if c.kind == "update" and c.state == "pending"]
    assert update.due_at == bot.clock.now() + timedelta(minutes=45)


async def test_reopen_restarts_the_open_clocks(bot):
    inc = await declare(bot, "P2 Search broken")
    form = await opened_form(bot.slack, bot.sender.command("resolve", channel=inc.channel_id))
    await bot.sender.submit_view(form, {"root_cause": text_value("index")})
    await until(lambda: _resolved(bot))
    assert {c.kind for c in await clocks(bot, 1) if c.state == "pending"} == {
        "postmortem_reminder",
        "postmortem_overdue",
        "archive",
    }
    await bot.sender.command("reopen", channel=inc.channel_id)
    await until(lambda: _reopened(bot))
    pending = {c.kind for c in await clocks(bot, 1) if c.state == "pending"}
    assert pending == {"update", "status_page", "response", "escalate"}


async def _reopened(bot):
    return (await incident(bot, 1)).status == "investigating"


async def test_gdpr_clock_runs_from_declaring_when_the_runbook_is_attached_later(bot):
    inc = await declare(bot, "P1 Strange exports --private")
    bot.clock.advance(hours=5)
    await bot.sender.command("runbook data-breach", channel=inc.channel_id)
    await until(lambda: _gdpr_started(bot))
    stored = await incident(bot, 1)
    assert stored.breach_detected_at == stored.declared_at
    deadline = [c for c in await clocks(bot, 1) if c.kind == "gdpr_deadline"][0]
    assert deadline.due_at == stored.declared_at + timedelta(hours=72)


async def _gdpr_started(bot):
    return (await incident(bot, 1)).breach_detected_at


async def test_ack_and_escalation_at_the_same_moment_do_not_both_happen(bot):
    import asyncio

    inc = await declare(bot, "P1 Site down")
    bot.clock.advance(minutes=15)  # escalation is due right now
    await asyncio.gather(
        bot.sender.command("ack", channel=inc.channel_id, user=PRIMARY),
        scheduler_pass(bot),
    )
    await until(lambda: events(bot, 1, "acknowledged"), what="the ack")
    await scheduler_pass(bot)
    escalations = await events(bot, 1, "escalation")
    [acked] = await events(bot, 1, "acknowledged")
    # Either the escalation won (and the ack came after it) or the ack won (no escalation).
    assert len(escalations) <= 1
    if escalations:
        assert escalations[0].id < acked.id and len(dms(bot.slack, BACKUP)) == 1
    else:
        assert dms(bot.slack, BACKUP) == []
