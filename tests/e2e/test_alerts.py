"""Alert webhooks: auth, each source's sample payload, the card and its buttons, dedup,
joining the open incident that already works the runbook, and auto-declare."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlencode

import pytest

from tests.conftest import BOTH_DATABASES, INCIDENTS, PRIMARY
from tests.support.alerts import (
    ALERT_SECRET,
    alerts,
    card_now,
    cards,
    fixture,
    post_alert,
    sign,
)
from tests.support.db import drained, events, incident, incidents, until
from tests.support.flows import block_text, declare, posts_to
from tests.support.runbook_ui import buttons
from tests.support.slack_sender import select_value, text_value

pytestmark = BOTH_DATABASES


@pytest.fixture
async def alert_bot(start_bot):
    return await start_bot(alert_webhook_secret=ALERT_SECRET)


SENTRY = fixture("sentry_issue_alert.json")
DOWN = fixture("uptimerobot_down.json")
UP = fixture("uptimerobot_up.json")
DISK = fixture("generic_disk_warning.json")


# ---- authentication and bad input -----------------------------------------------------------


async def test_missing_or_wrong_credentials_get_401_and_nothing_is_stored(alert_bot, caplog):
    caplog.set_level(logging.DEBUG)
    unsigned = await post_alert(alert_bot, "sentry", SENTRY, auth="none")
    forged = await post_alert(
        alert_bot, "sentry", SENTRY, auth="none", headers={"X-Alert-Signature": sign(SENTRY, "x")}
    )
    # Signed for another body: the signature covers every byte.
    tampered = await post_alert(
        alert_bot,
        "sentry",
        SENTRY.replace(b"error", b"fatal"),
        auth="none",
        headers={"X-Alert-Signature": sign(SENTRY)},
    )
    wrong_token = await post_alert(
        alert_bot, "sentry", SENTRY, auth="none", headers={"Authorization": "Bearer nope"}
    )
    for response in (unsigned, forged, tampered, wrong_token):
        assert response.status_code == 401, response.text
        assert "unauthorized" in response.json()["error"]
    assert await alerts(alert_bot) == []
    await drained(alert_bot)
    assert cards(alert_bot.slack) == []
    assert ALERT_SECRET not in caplog.text and "Bearer nope" not in caplog.text


async def test_signed_and_bearer_requests_are_both_accepted(alert_bot):
    signed = await post_alert(alert_bot, "sentry", SENTRY, auth="signature")
    assert signed.status_code == 202 and signed.json()["outcome"] == "posted"
    bearer = await post_alert(alert_bot, "uptimerobot", DOWN, auth="bearer")
    assert bearer.status_code == 202 and bearer.json()["outcome"] == "posted"
    # Sentry signs with its own header name; the same secret verifies it.
    sentry_header = await post_alert(
        alert_bot,
        "generic",
        DISK,
        auth="none",
        headers={"Sentry-Hook-Signature": sign(DISK).removeprefix("sha256=")},
    )
    assert sentry_header.status_code == 202
    assert [a.source for a in await alerts(alert_bot)] == ["sentry", "uptimerobot", "generic"]


async def test_malformed_or_oversized_bodies_get_400_with_a_reason(alert_bot):
    cases = {
        b"{not json": "the body is not JSON",
        b"[1, 2]": "must be a JSON object",
        json.dumps({"severity": "P1"}).encode(): "title: Field required",
        json.dumps({"title": "x", "kind": "meteor"}).encode(): "kind: must be one of",
        json.dumps({"title": "x", "severity": "apocalyptic"}).encode(): "severity: must be P1-P4",
        json.dumps({"title": "x", "runbook": "nope"}).encode(): "there is no runbook 'nope'",
        json.dumps({"title": "x", "link": "javascript:alert(1)"}).encode(): "link: must be",
        json.dumps({"title": "x" * 70_000}).encode(): "larger than 64 KiB",
    }
    for body, reason in cases.items():
        response = await post_alert(alert_bot, "generic", body)
        assert response.status_code == 400, (body[:40], response.text)
        error = response.json()["error"]
        assert reason in error and "\n" not in error, error
    not_an_issue_alert = json.loads(SENTRY)
    not_an_issue_alert["action"] = "resolved"
    response = await post_alert(alert_bot, "sentry", not_an_issue_alert)
    assert response.status_code == 400 and "only issue alerts" in response.json()["error"]
    assert await alerts(alert_bot) == []


async def test_unknown_source_and_webhooks_off_are_404(alert_bot, start_bot):
    unknown = await post_alert(alert_bot, "pagerduty", DISK)
    assert unknown.status_code == 404 and "generic, sentry, uptimerobot" in unknown.json()["error"]
    off = await start_bot()  # no ALERT_WEBHOOK_SECRET
    response = await post_alert(off, "generic", DISK)
    assert response.status_code == 404 and "ALERT_WEBHOOK_SECRET" in response.json()["error"]


# ---- each source's mapping ------------------------------------------------------------------


async def test_sentry_issue_alert_is_an_error_spike_card_with_declare_p2(alert_bot):
    await post_alert(alert_bot, "sentry", SENTRY)
    await drained(alert_bot)
    [card] = cards(alert_bot.slack)
    text = block_text(card.args["blocks"])
    assert "More than 50 errors in a minute" in text and "Cannot read properties" in text
    assert "`high-error-rate`" in text and "P2 — High" in text
    assert "https://sentry.io/organizations/buildflow/issues/4412087/" in text
    assert list(buttons(card.args["blocks"])) == ["Declare P2", "Dismiss"]
    [stored] = await alerts(alert_bot)
    assert (stored.dedup_key, stored.severity, stored.runbook_id) == (
        "sentry:4412087",
        "P2",
        "high-error-rate",
    )


async def test_uptimerobot_down_is_site_down_p1_and_up_marks_it_recovered(alert_bot):
    # UptimeRobot can also send its variables as form fields.
    form = urlencode(json.loads(DOWN)).encode()
    response = await post_alert(
        alert_bot, "uptimerobot", form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 202
    await drained(alert_bot)
    [card] = cards(alert_bot.slack)
    assert "Declare P1" in buttons(card.args["blocks"])
    assert "`site-down`" in block_text(card.args["blocks"])
    assert "Connection Timeout" in block_text(card.args["blocks"])

    alert_bot.clock.advance(minutes=5)
    up = await post_alert(alert_bot, "uptimerobot", UP)
    assert up.json()["outcome"] == "recovered"
    await drained(alert_bot)
    ts = (await alerts(alert_bot))[0].card_ts
    assert card.args["channel"] == INCIDENTS
    assert ":white_check_mark: Recovered at 09:35 UTC" in block_text(
        card_now(alert_bot.slack, ts)["blocks"]
    )
    [reply] = posts_to(alert_bot.slack, INCIDENTS, ts)
    assert "recovered at 09:35 UTC" in reply.args["text"]
    assert len(cards(alert_bot.slack)) == 1


async def test_a_monitor_with_a_very_long_url_still_gets_its_card(alert_bot):
    # UptimeRobot and Sentry send their URLs as they are; a long one must not push the card
    # past Slack's 3000 characters a section (Slack would refuse the card: no alert shown).
    long_url = "https://buildflow-ai.app/api/health?" + "&".join(f"p{n}=x" for n in range(700))
    down = {**json.loads(DOWN), "monitorURL": long_url, "alertDetails": "Timeout " * 200}
    assert (await post_alert(alert_bot, "uptimerobot", down)).status_code == 202
    await drained(alert_bot)
    [card] = cards(alert_bot.slack)
    assert "Declare P1" in buttons(card.args["blocks"])
    assert "Timeout Timeout" in block_text(card.args["blocks"])


@pytest.mark.parametrize(
    ("kind", "severity", "runbook"),
    [
        ("disk_warning", "P3", "database-disk"),
        ("disk_critical", "P1", "database-disk"),
        ("health_unhealthy", "P1", "site-down"),
        ("error_spike", "P2", "high-error-rate"),
        ("rate_limit", "P3", None),
    ],
)
async def test_generic_kinds_follow_the_mapping_rules(alert_bot, kind, severity, runbook):
    response = await post_alert(alert_bot, "generic", {"title": f"{kind} seen", "kind": kind})
    assert response.status_code == 202
    [stored] = await alerts(alert_bot)
    assert (stored.severity, stored.runbook_id) == (severity, runbook)
    await drained(alert_bot)
    [card] = cards(alert_bot.slack)
    assert f"Declare {severity}" in buttons(card.args["blocks"])


async def test_generic_severity_hint_overrides_the_rule_and_title_suggests_a_runbook(alert_bot):
    await post_alert(alert_bot, "generic", {"title": "Disk full on db", "severity": "critical"})
    [stored] = await alerts(alert_bot)
    assert (stored.severity, stored.runbook_id) == ("P1", "database-disk")


# ---- dedup -----------------------------------------------------------------------------------


async def test_same_dedup_key_within_30_minutes_updates_the_count_not_a_new_card(alert_bot):
    await post_alert(alert_bot, "generic", DISK)
    await drained(alert_bot)
    alert_bot.clock.advance(minutes=10)
    again = await post_alert(alert_bot, "generic", DISK)
    assert again.json()["outcome"] == "updated"
    alert_bot.clock.advance(minutes=29)  # 29 min after the last one: still the same alert
    await post_alert(alert_bot, "generic", DISK)
    await drained(alert_bot)
    [card] = cards(alert_bot.slack)
    [stored] = await alerts(alert_bot)
    assert stored.count == 3
    assert "3 times, 09:30 UTC–10:09 UTC" in block_text(
        card_now(alert_bot.slack, stored.card_ts)["blocks"]
    )

    alert_bot.clock.advance(minutes=31)
    fresh = await post_alert(alert_bot, "generic", DISK)
    assert fresh.json()["outcome"] == "posted"
    await drained(alert_bot)
    assert len(cards(alert_bot.slack)) == 2


async def test_a_burst_of_the_same_alert_at_once_is_one_card(alert_bot):
    responses = await asyncio.gather(*(post_alert(alert_bot, "sentry", SENTRY) for _ in range(5)))
    assert sorted(r.json()["outcome"] for r in responses) == ["posted"] + ["updated"] * 4
    await drained(alert_bot)
    [stored] = await alerts(alert_bot)
    assert stored.count == 5
    assert len(cards(alert_bot.slack)) == 1


async def test_generic_resolved_status_marks_the_alert_recovered(alert_bot):
    await post_alert(alert_bot, "generic", DISK)
    resolved = {**json.loads(DISK), "status": "resolved"}
    assert (await post_alert(alert_bot, "generic", resolved)).json()["outcome"] == "recovered"
    [stored] = await alerts(alert_bot)
    assert stored.recovered_at is not None
    # Nothing open with that key any more: a second "resolved" changes nothing.
    assert (await post_alert(alert_bot, "generic", resolved)).json()["outcome"] == "ignored"


# ---- the open incident already working it -----------------------------------------------------


async def test_alert_for_a_runbook_in_use_goes_to_that_incidents_timeline(alert_bot):
    inc = await declare(alert_bot, "P1 Site down --runbook site-down")
    response = await post_alert(alert_bot, "uptimerobot", DOWN)
    assert response.json() == {"alert": 1, "outcome": "attached", "incident": inc.id}
    await drained(alert_bot)
    assert cards(alert_bot.slack) == []
    [event] = await events(alert_bot, inc.id, "alert")
    assert "UptimeRobot alert #1" in event.text and "Connection Timeout" in event.text
    stored = await incident(alert_bot, inc.id)
    assert any(
        "UptimeRobot alert #1" in c.args["text"]
        for c in posts_to(alert_bot.slack, stored.channel_id)
    )


async def test_alert_after_that_incident_resolved_is_news_again(alert_bot):
    await declare(alert_bot, "P3 Disk filling --runbook database-disk")
    assert (await post_alert(alert_bot, "generic", DISK)).json()["outcome"] == "attached"
    await alert_bot.sender.command("resolve INC-1")
    [form] = await alert_bot.slack.wait_for("views.open")
    await alert_bot.sender.submit_view(form.args["view"], {"root_cause": text_value("Cleaned up")})
    await until(lambda: _resolved(alert_bot, 1), what="INC-1 resolved")
    again = await post_alert(alert_bot, "generic", DISK)
    assert again.json()["outcome"] == "posted"


async def _resolved(bot, number):
    return (await incident(bot, number)).status == "resolved"


# ---- the card's buttons --------------------------------------------------------------------------


async def test_declare_opens_the_prefilled_form_and_submitting_declares(alert_bot):
    await post_alert(alert_bot, "sentry", SENTRY)
    await drained(alert_bot)
    [card] = cards(alert_bot.slack)
    declare_button = buttons(card.args["blocks"])["Declare P2"]
    await alert_bot.sender.click(
        declare_button["action_id"], declare_button["value"], channel=INCIDENTS
    )
    [opened] = await alert_bot.slack.wait_for("views.open")
    view = opened.args["view"]
    by_block = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert by_block["title"]["initial_value"].startswith("Sentry: More than 50 errors in a minute")
    assert by_block["severity"]["initial_option"]["value"] == "P2"
    assert by_block["runbook"]["initial_option"]["value"] == "high-error-rate"
    assert (
        "https://sentry.io/organizations/buildflow/issues/4412087/"
        in (by_block["description"]["initial_value"])
    )

    await alert_bot.sender.submit_view(
        view,
        {
            "title": text_value(by_block["title"]["initial_value"]),
            "severity": select_value("P2"),
            "runbook": select_value("high-error-rate"),
            "description": text_value(by_block["description"]["initial_value"]),
        },
        user="UBOB1",
    )
    [declared] = await until(lambda: incidents(alert_bot), what="the declared incident")
    assert (declared.severity, declared.runbook_id, declared.declared_by) == (
        "P2",
        "high-error-rate",
        "UBOB1",
    )
    [stored] = await alerts(alert_bot)
    assert (stored.state, stored.incident_id, stored.decided_by) == ("declared", 1, "UBOB1")
    [event] = await events(alert_bot, 1, "alert")
    assert "declared from alert #1 (sentry)" in event.text
    await drained(alert_bot)
    shown = card_now(alert_bot.slack, stored.card_ts)
    assert "Declared as *INC-1* by <@UBOB1>" in block_text(shown["blocks"])
    assert buttons(shown["blocks"]) == {}

    # A second click on a stale card is told who declared it.
    await alert_bot.sender.click(
        declare_button["action_id"], declare_button["value"], channel=INCIDENTS, user="UCAROL1"
    )
    [told] = await alert_bot.slack.wait_for_response(
        where=lambda r: "already declared as INC-1" in r.get("text", "")
    )
    assert "<@UBOB1>" in told["text"]
    assert len(alert_bot.slack.calls_to("views.open")) == 1


async def test_dismiss_records_who_and_removes_the_buttons(alert_bot):
    await post_alert(alert_bot, "generic", DISK)
    await drained(alert_bot)
    [card] = cards(alert_bot.slack)
    dismiss = buttons(card.args["blocks"])["Dismiss"]
    await alert_bot.sender.click(dismiss["action_id"], dismiss["value"], channel=INCIDENTS)
    [stored] = await until(lambda: _alerts_in(alert_bot, "dismissed"), what="the alert dismissed")
    assert stored.decided_by == "UALICE1"
    await drained(alert_bot)
    shown = card_now(alert_bot.slack, stored.card_ts)
    assert "Dismissed by <@UALICE1> at 09:30 UTC" in block_text(shown["blocks"])
    assert buttons(shown["blocks"]) == {}
    declare_button = buttons(card.args["blocks"])["Declare P3"]
    await alert_bot.sender.click(declare_button["action_id"], declare_button["value"])
    await alert_bot.slack.wait_for_response(
        where=lambda r: "was dismissed by <@UALICE1>" in r.get("text", "")
    )
    assert alert_bot.slack.calls_to("views.open") == []


async def _alerts_in(bot, state):
    return [a for a in await alerts(bot) if a.state == state]


# ---- auto-declare ------------------------------------------------------------------------------


async def test_auto_declare_rule_declares_with_on_call_as_commander(start_bot):
    bot = await start_bot(alert_webhook_secret=ALERT_SECRET, alert_auto_declare="site-down")
    response = await post_alert(bot, "uptimerobot", DOWN)
    assert response.json() == {"alert": 1, "outcome": "declared", "incident": 1}
    inc = await incident(bot, 1)
    assert (inc.severity, inc.runbook_id, inc.commander_id) == ("P1", "site-down", PRIMARY)
    await drained(bot)
    [stored] = await alerts(bot)
    assert stored.state == "declared"
    assert "Declared as *INC-1*" in block_text(card_now(bot.slack, stored.card_ts)["blocks"])
    # Rules not listed still wait for a person.
    assert (await post_alert(bot, "generic", DISK)).json()["outcome"] == "posted"
