"""Runbooks in Slack: the steps as buttons, what each sends, approvals, failures, secrets."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from storage.models import StepRun
from tests.conftest import ADMIN_COOKIE, ANTHROPIC_KEY, APPROVERS, BOTH_DATABASES, CRON_SECRET
from tests.support.db import drained, events, incident, until
from tests.support.flows import block_text, declare, opened_form
from tests.support.runbook_ui import (
    approval_message,
    buttons,
    decide,
    press,
    runbook_message,
    step_section,
    wait_approval,
)
from tests.support.slack_sender import checkbox_values, text_value

pytestmark = BOTH_DATABASES

APPROVER, OTHER_APPROVER = APPROVERS


async def declared_with(bot, runbook, severity="P1", title="Site down"):
    inc = await declare(bot, f"{severity} {title} --runbook {runbook}")
    await until(lambda: _has_runbook_message(bot, inc.id), what="the runbook message")
    return await incident(bot, inc.id)


async def _has_runbook_message(bot, number):
    return (await incident(bot, number)).runbook_ts


async def action_events(bot, number):
    return [e.text for e in await events(bot, number, "action")]


async def wait_action(bot, number, count=1):
    async def done():
        texts = await action_events(bot, number)
        return texts if len(texts) >= count else None

    texts = await until(done, what=f"{count} action result(s)")
    await drained(bot)
    return texts


async def test_attached_runbook_is_posted_as_buttons_with_the_contract_labels(ops_bot):
    inc = await declared_with(ops_bot, "site-down")
    message = runbook_message(ops_bot, inc.channel_id)
    labels = set(buttons(message["blocks"]))
    assert {
        "Check health",
        "Enable maintenance mode",
        "Disable maintenance mode",
        "Supabase status",
        "Vercel status",
        "Upstash status",
        "Done",
        "Open",
    } <= labels
    assert message["ts"] == inc.runbook_ts
    assert "needs approval" in step_section(message, "Enable maintenance mode")
    assert "needs approval" not in step_section(message, "Disable maintenance mode")
    assert [e.text for e in await events(ops_bot, 1, "runbook")] == [
        "attached the runbook *Site down / complete outage* (`site-down`)"
    ]


async def test_every_seed_runbook_posts_within_slack_limits(ops_bot):
    ids = [
        "site-down",
        "high-error-rate",
        "database-disk",
        "database-connections",
        "data-breach",
        "payment-failures",
        "ai-generation-down",
        "key-rotation",
    ]
    inc = await declare(ops_bot, "P2 Many things --private")  # the breach runbook needs it
    for runbook_id in ids:
        await ops_bot.sender.command(f"runbook {runbook_id}", channel=inc.channel_id)
        await until(lambda rid=runbook_id: _attached(ops_bot, rid), what=runbook_id)
    await drained(ops_bot)
    posted = [
        m
        for m in ops_bot.slack.channels[inc.channel_id].messages
        if m.get("text", "").startswith("Runbook for INC")
    ]
    assert len(posted) == len(ids)
    assert all(len(m["blocks"]) <= 50 for m in posted)
    labels = set().union(*(buttons(m["blocks"]) for m in posted))
    assert {
        "Force logout (dry run)",
        "Force logout",
        "Run cleanup-previews",
        "Run webhook-retries",
        "Run db-health",
        "Test Anthropic API",
    } <= labels


async def _attached(bot, runbook_id):
    inc = await incident(bot, 1)
    return inc.runbook_id == runbook_id and inc.runbook_ts


async def test_runbook_is_suggested_from_the_title_and_attached_with_a_click(ops_bot):
    await ops_bot.sender.command("declare P1 Site is down, 503 everywhere")
    [reply] = await ops_bot.slack.wait_for_response()
    assert "Suggested runbook: Site down / complete outage (`site-down`)" in reply["text"]
    attach = buttons(reply["blocks"])["Attach runbook: Site down / complete outage"]
    await ops_bot.sender.click(attach["action_id"], attach["value"])
    await until(lambda: _attached(ops_bot, "site-down"), what="the attached runbook")


async def test_runbook_command_lists_and_rejects_unknown_ids(ops_bot):
    inc = await declare(ops_bot, "P2 Stripe webhooks failing")
    await ops_bot.sender.command("runbook", channel=inc.channel_id)
    listing = (await ops_bot.slack.wait_for_response(count=2))[-1]["text"]
    assert "`payment-failures`" in listing and "_(suggested)_" in listing
    await ops_bot.sender.command("runbook nope", channel=inc.channel_id)
    error = (await ops_bot.slack.wait_for_response(count=3))[-1]["text"]
    assert "There is no runbook `nope`" in error and "site-down" in error
    assert (await incident(ops_bot, 1)).runbook_id is None


async def test_check_health_sends_get_and_shows_the_chosen_fields(ops_bot):
    inc = await declared_with(ops_bot, "site-down")
    await press(ops_bot, inc.channel_id, "Check health")
    [request] = await ops_bot.target.wait_for("/api/health")
    assert request.method == "GET" and request.query == {} and request.body == b""
    [result] = await wait_action(ops_bot, 1)
    assert result.startswith(":white_check_mark: ran *Check health*: HTTP 200 in ")
    assert "status=healthy · database.status=ok · database.diskStatus=ok" in result
    section = step_section(runbook_message(ops_bot, inc.channel_id), "Check health")
    assert ":white_check_mark:" in section and "database.status=ok" in section


async def test_cron_triggers_send_the_bearer_secret(ops_bot):
    inc = await declared_with(ops_bot, "database-disk", "P3", "Disk warning")
    where = inc.channel_id or "CINCIDENTS"
    assert where == "CINCIDENTS"  # P3: the runbook lives in the #incidents thread
    for label, path in (
        ("Run cleanup-previews", "/api/cron/cleanup-previews"),
        ("Run db-health", "/api/cron/db-health"),
    ):
        message = _thread_runbook(ops_bot, inc)
        button = buttons(message["blocks"])[label]
        await ops_bot.sender.click(button["action_id"], button["value"], channel=where)
        [request] = await ops_bot.target.wait_for(path)
        assert request.method == "GET"
        assert request.header("Authorization") == f"Bearer {CRON_SECRET}"
    results = await wait_action(ops_bot, 1, 2)
    assert all(r.startswith(":white_check_mark:") for r in results)


def _thread_runbook(bot, inc):
    found = [
        m
        for m in bot.slack.channels["CINCIDENTS"].messages
        if m.get("text", "").startswith("Runbook for INC") and m.get("thread_ts") == inc.root_ts
    ]
    assert found, "no runbook message in the thread"
    return found[-1]


async def test_webhook_retries_and_anthropic_ping(ops_bot):
    inc = await declared_with(ops_bot, "payment-failures", "P2", "Payments failing")
    await press(ops_bot, inc.channel_id, "Run webhook-retries")
    [retry] = await ops_bot.target.wait_for("/api/cron/webhook-retries")
    assert retry.header("Authorization") == f"Bearer {CRON_SECRET}"
    await ops_bot.sender.command("runbook ai-generation-down", channel=inc.channel_id)
    await until(lambda: _attached(ops_bot, "ai-generation-down"))
    await drained(ops_bot)
    await press(ops_bot, inc.channel_id, "Test Anthropic API")
    [ping] = await ops_bot.target.wait_for("/v1/messages", method="POST")
    assert ping.header("x-api-key") == ANTHROPIC_KEY
    assert ping.header("anthropic-version") == "2023-06-01"
    assert ping.json == {
        "model": "claude-haiku-4-5-20251001",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
    }
    results = await wait_action(ops_bot, 1, 2)
    assert all(r.startswith(":white_check_mark:") for r in results), results


async def test_status_page_reports_its_indicator(ops_bot):
    ops_bot.target.set_status_page("supabase", "minor", "Degraded pooler performance")
    inc = await declared_with(ops_bot, "site-down")
    await press(ops_bot, inc.channel_id, "Supabase status")
    [result] = await wait_action(ops_bot, 1)
    assert "Supabase: Degraded pooler performance (indicator: minor)" in result
    assert ":warning:" in result


async def test_force_logout_dry_run_then_execute_with_approval(ops_bot):
    inc = await declared_with(ops_bot, "data-breach", "P1", "Unauthorized access")
    assert inc.private is True  # the breach runbook keeps the incident private
    channel = inc.channel_id
    await press(ops_bot, channel, "Force logout (dry run)")
    [dry] = await ops_bot.target.wait_for("/api/admin/sessions/revoke-all", method="GET")
    assert dry.query == {"exceptAdmins": "true"} and dry.header("Cookie") == ADMIN_COOKIE
    [result] = await wait_action(ops_bot, 1)
    assert "count=1231" in result

    form = await opened_form(ops_bot.slack, press(ops_bot, channel, "Force logout"))
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        for b in form["blocks"]
        if b["type"] == "input"
    }
    assert initial["input:reason"] == "Data breach response — forced re-authentication"
    await ops_bot.sender.submit_view(
        form,
        {
            "input:reason": text_value("Breach INC-1: rotate sessions"),
            "input:exceptAdmins": checkbox_values(),
        },
    )
    await wait_approval(ops_bot, channel)
    assert ops_bot.target.requests_to("/api/admin/sessions/revoke-all", method="POST") == []
    await decide(ops_bot, channel, "Approve", APPROVER)
    [post] = await ops_bot.target.wait_for("/api/admin/sessions/revoke-all", method="POST")
    assert post.json == {"reason": "Breach INC-1: rotate sessions", "exceptAdmins": False}
    assert post.header("Cookie") == ADMIN_COOKIE
    assert post.header("Content-Type").startswith("application/json")
    results = await wait_action(ops_bot, 1, 2)
    assert "revoked=1234" in results[-1]


async def open_maintenance_request(bot, channel, user="UALICE1"):
    form = await opened_form(bot.slack, press(bot, channel, "Enable maintenance mode", user=user))
    await bot.sender.submit_view(
        form, {"input:message": text_value(_initial(form, "input:message"))}, user=user
    )
    return await wait_approval(bot, channel)


def _initial(form, block_id):
    return next(
        b["element"].get("initial_value") for b in form["blocks"] if b.get("block_id") == block_id
    )


async def test_maintenance_mode_needs_another_approvers_approve(ops_bot):
    inc = await declared_with(ops_bot, "site-down", "P2", "Checkout down")
    channel = inc.channel_id
    request = await open_maintenance_request(ops_bot, channel)
    assert "<@UAPPROVER1>" in request["text"] or "<@UAPPROVER1>" in block_text(request["blocks"])
    approve = buttons(request["blocks"])["Approve"]
    deny = buttons(request["blocks"])["Deny"]
    assert approve["confirm"]["confirm"]["text"] == "Approve" and deny["style"] == "danger"
    assert "Break glass" not in buttons(request["blocks"])  # P2: no break glass

    # The requester cannot approve their own request; a non-approver cannot either.
    for user, expected in (
        ("UALICE1", "someone else must approve"),
        ("UMALLORY1", "Only approvers may approve"),
    ):
        before = len(ops_bot.slack.responses)
        await decide(ops_bot, channel, "Approve", user)
        reply = (await ops_bot.slack.wait_for_response(count=before + 1))[-1]
        assert expected in reply["text"] and reply["response_type"] == "ephemeral"
    assert ops_bot.target.requests_to("/api/admin/maintenance") == []

    await decide(ops_bot, channel, "Approve", APPROVER)
    [post] = await ops_bot.target.wait_for("/api/admin/maintenance", method="POST")
    assert post.json == {
        "message": "BuildFlow AI is currently experiencing an outage. Our team "
        "is investigating and working to restore service."
    }
    assert post.header("Cookie") == ADMIN_COOKIE
    await wait_action(ops_bot, 1)
    assert ops_bot.target.maintenance is True
    decided = approval_message(ops_bot, channel)
    assert "Approved by <@UAPPROVER1>" in decided["text"] and not buttons(decided["blocks"])

    kinds = [(e.kind, json.loads(e.data)["state"]) for e in await events(ops_bot, 1, "approval")]
    assert kinds == [("approval", "awaiting_approval"), ("approval", "approved")]


async def test_two_approvers_at_once_run_the_action_exactly_once(ops_bot):
    inc = await declared_with(ops_bot, "site-down", "P2", "Checkout down")
    channel = inc.channel_id
    await open_maintenance_request(ops_bot, channel)
    ops_bot.target.delay("/api/admin/maintenance", 0.2)
    await asyncio.gather(
        decide(ops_bot, channel, "Approve", APPROVER),
        decide(ops_bot, channel, "Approve", OTHER_APPROVER),
        decide(ops_bot, channel, "Approve", APPROVER),  # a double click
    )
    await wait_action(ops_bot, 1)
    replies = await ops_bot.slack.wait_for_response(count=3)
    refusals = [r["text"] for r in replies if "Already approved by" in r.get("text", "")]
    assert len(refusals) == 2
    assert len(ops_bot.target.requests_to("/api/admin/maintenance", method="POST")) == 1


async def test_denied_action_does_not_run_and_a_late_approve_is_refused(ops_bot):
    inc = await declared_with(ops_bot, "site-down", "P2", "Checkout down")
    channel = inc.channel_id
    await open_maintenance_request(ops_bot, channel)
    await decide(ops_bot, channel, "Deny", APPROVER)
    await until(lambda: _approval_states(ops_bot, "denied"), what="the denial")
    await decide(ops_bot, channel, "Approve", OTHER_APPROVER)
    reply = (await ops_bot.slack.wait_for_response(count=2))[-1]
    assert "Already denied by <@UAPPROVER1>" in reply["text"]
    assert ops_bot.target.requests_to("/api/admin/maintenance") == []


async def _approval_states(bot, state):
    return [e for e in await events(bot, 1, "approval") if json.loads(e.data)["state"] == state]


async def test_break_glass_on_p1_runs_with_a_recorded_reason(ops_bot):
    inc = await declared_with(ops_bot, "site-down", "P1", "Everything down")
    channel = inc.channel_id
    request = await open_maintenance_request(ops_bot, channel)
    assert "Break glass" in buttons(request["blocks"])

    await decide(ops_bot, channel, "Break glass", "UMALLORY1")  # not the requester
    reply = (await ops_bot.slack.wait_for_response(count=2))[-1]
    assert "Only the person who asked may break glass" in reply["text"]

    await decide(ops_bot, channel, "Break glass", "UALICE1")
    form = (await ops_bot.slack.wait_for("views.open", count=2))[-1].args["view"]
    empty = await ops_bot.sender.submit_view(form, {"reason": text_value(" ")})
    assert empty.json()["response_action"] == "errors"
    await ops_bot.sender.submit_view(form, {"reason": text_value("approvers asleep, 100% 5xx")})
    await ops_bot.target.wait_for("/api/admin/maintenance", method="POST")
    await wait_action(ops_bot, 1)
    [glass] = await _approval_states(ops_bot, "approved")
    assert "broke glass" in glass.text and "approvers asleep, 100% 5xx" in glass.text
    channel_texts = [m["text"] for m in ops_bot.slack.channels[channel].messages]
    assert any("broke glass" in t and "approvers asleep" in t for t in channel_texts)


async def test_double_click_on_a_plain_action_runs_it_once(ops_bot):
    inc = await declared_with(ops_bot, "site-down")
    ops_bot.target.delay("/api/health", 0.4)  # still running when the other clicks arrive
    await asyncio.gather(*(press(ops_bot, inc.channel_id, "Check health") for _ in range(3)))
    await wait_action(ops_bot, 1)
    busy = await ops_bot.slack.wait_for_response(
        count=2, where=lambda r: "*Check health* is already running" in r.get("text", "")
    )
    assert len(busy) == 2
    assert len(ops_bot.target.requests_to("/api/health")) == 1


async def test_checklist_items_are_ticked_with_who_and_when(ops_bot):
    inc = await declared_with(ops_bot, "site-down")
    message = runbook_message(ops_bot, inc.channel_id)
    section = next(
        b for b in message["blocks"] if "Roll back in Vercel" in b.get("text", {}).get("text", "")
    )
    button = section["accessory"]
    assert button["text"]["text"] == "Done"
    await ops_bot.sender.click(
        button["action_id"], button["value"], user="UBOB1", channel=inc.channel_id
    )
    await until(lambda: events(ops_bot, 1, "check"), what="the tick")
    await drained(ops_bot)
    section = step_section(
        runbook_message(ops_bot, inc.channel_id), "Roll back in Vercel: promote previous deployment"
    )
    assert ":ballot_box_with_check: done by <@UBOB1> at 09:30 UTC" in section


async def test_failures_are_reported_and_the_incident_carries_on(ops_bot):
    target = ops_bot.target
    inc = await declared_with(ops_bot, "site-down")
    channel = inc.channel_id
    target.fail("/api/health", status=500)
    await press(ops_bot, channel, "Check health")
    target.non_json("/api/health")
    await wait_action(ops_bot, 1, 1)
    await press(ops_bot, channel, "Check health")
    await wait_action(ops_bot, 1, 2)
    target.reset()
    target.delay("/api/health", 1.0)  # longer than ACTION_TIMEOUT (0.5 s)
    await press(ops_bot, channel, "Check health")
    await wait_action(ops_bot, 1, 3)
    target.reset()
    target.redirect("/api/health", "https://evil.example/steal")
    await press(ops_bot, channel, "Check health")
    results = await wait_action(ops_bot, 1, 4)
    assert results[0].startswith(":x: ran (failed) *Check health*: HTTP 500 (expected 200/503)")
    assert "the body is not JSON" in results[1]
    assert "timed out after 0.5 s" in results[2]
    assert "redirected to https://evil.example: not followed" in results[3]
    [redirected] = target.requests_to("/api/health")  # requests since the last reset()
    assert redirected.status == 302  # answered with the redirect, which was not followed

    await target.stop()
    await press(ops_bot, channel, "Check health")
    results = await wait_action(ops_bot, 1, 5)
    assert "could not connect to" in results[4]
    # The incident carries on.
    await ops_bot.sender.command("note still working", channel=channel)
    await until(lambda: events(ops_bot, 1, "note"), what="the note")


async def test_missing_setting_is_reported_and_nothing_is_sent(start_bot, target):
    bot = await start_bot(service_url=target.url)  # no CRON_SECRET
    inc = await declared_with(bot, "database-disk", "P1", "Disk critical")
    await press(bot, inc.channel_id, "Run cleanup-previews")
    [result] = await wait_action(bot, 1)
    assert "not run: CRON_SECRET is not set" in result
    assert target.requests_to("/api/cron/cleanup-previews") == []


async def test_breach_runbook_is_refused_on_a_public_incident(ops_bot):
    inc = await declare(ops_bot, "P1 Odd logins")
    await ops_bot.sender.command("runbook data-breach", channel=inc.channel_id)
    reply = (await ops_bot.slack.wait_for_response(count=2))[-1]["text"]
    assert "for private incidents" in reply and "--private --runbook data-breach" in reply
    assert (await incident(ops_bot, 1)).runbook_id is None


async def test_a_double_click_on_done_ticks_once(ops_bot):
    inc = await declared_with(ops_bot, "site-down")
    message = runbook_message(ops_bot, inc.channel_id)
    section = next(
        b for b in message["blocks"] if "Roll back in Vercel" in b.get("text", {}).get("text", "")
    )
    button = section["accessory"]
    for _ in range(2):  # the same (stale) button pressed twice
        await ops_bot.sender.click(button["action_id"], button["value"], channel=inc.channel_id)
    reply = (
        await ops_bot.slack.wait_for_response(
            where=lambda r: "is already done" in r.get("text", "")
        )
    )[0]
    assert "by <@UALICE1>" in reply["text"]
    assert len(await events(ops_bot, 1, "check")) == 1


async def test_a_stale_button_of_a_replaced_runbook_does_nothing(ops_bot):
    inc = await declared_with(ops_bot, "site-down")
    old = runbook_message(ops_bot, inc.channel_id)
    await ops_bot.sender.command("runbook high-error-rate", channel=inc.channel_id)
    await until(lambda: _attached(ops_bot, "high-error-rate"))
    await drained(ops_bot)
    button = buttons(old["blocks"])["Check health"]  # same step id in both runbooks
    await ops_bot.sender.click(button["action_id"], button["value"], channel=inc.channel_id)
    reply = (
        await ops_bot.slack.wait_for_response(where=lambda r: "out of date" in r.get("text", ""))
    )[0]
    assert "`/incident runbook` posts the current one" in reply["text"]
    assert ops_bot.target.requests_to("/api/health") == []


async def test_an_action_this_replica_left_running_is_reported_and_one_in_flight_is_not(
    start_bot, target
):
    bot = await start_bot(
        service_url=target.url,
        cron_secret=CRON_SECRET,
        admin_session_cookie=ADMIN_COOKIE,
        action_timeout=5,
        replica_timeout="1s",  # check-ins (and take-overs) every third of a second
    )
    inc = await declared_with(bot, "site-down")
    # An action that ran while the database failed: its outcome could not be stored, and the
    # run stays 'running' under this (live) replica's id. Nobody else takes it over; unless
    # this replica does, the step can never be pressed again (one live run per step).
    async with bot.services.db.transaction() as session:
        session.add(
            StepRun(
                incident_id=inc.id,
                runbook_id="site-down",
                step_id="maintenance-on",
                kind="http",
                state="running",
                requested_by="UALICE1",
                requested_at=bot.clock.now() - timedelta(minutes=1),
                started_at=bot.clock.now() - timedelta(minutes=1),
                owner=bot.services.presence.id,
            )
        )
    # Meanwhile an action really running through several check-ins, and for longer than
    # REPLICA_TIMEOUT, is left alone.
    target.delay("/api/health", 1.5)
    await press(bot, inc.channel_id, "Check health")
    await target.wait_for("/api/health")
    bot.clock.advance(seconds=5)

    async def reported() -> list[str]:
        texts = await action_events(bot, inc.id)
        return texts if len(texts) == 2 else []

    texts = await until(reported, what="the left run reported and the running one's result")
    assert any("*Enable maintenance mode*: outcome unknown" in t for t in texts), texts
    assert any(t.startswith(":white_check_mark: ran *Check health*") for t in texts), texts
