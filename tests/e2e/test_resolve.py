"""Resolving: the form, the announcements, the postmortem draft with the real timeline."""

from __future__ import annotations

from tests.conftest import BOTH_DATABASES, INCIDENTS
from tests.support.db import drained, events, incident, until
from tests.support.flows import block_text, declare, posts_to
from tests.support.slack_sender import text_value

pytestmark = BOTH_DATABASES


async def command(bot, text, channel):
    before = len(bot.slack.responses)
    await bot.sender.command(text, channel=channel)
    await bot.slack.wait_for_response(count=before + 1)
    await drained(bot)


async def open_resolve_form(bot, channel, text="resolve"):
    opened_before = len(bot.slack.calls_to("views.open"))
    await bot.sender.command(text, channel=channel)
    calls = await bot.slack.wait_for("views.open", count=opened_before + 1)
    return calls[-1].args["view"]


async def _pinned(bot):
    return any(e.key for e in await events(bot, 1, "message"))


async def test_p1_declared_worked_and_resolved_with_postmortem(bot):
    inc = await declare(bot, "P1 Site down")
    channel = inc.channel_id
    bot.clock.advance(minutes=7)
    await command(bot, "status identified", channel)
    await bot.sender.event(
        {
            "type": "message",
            "channel": channel,
            "user": "UBOB1",
            "text": "bad deploy 4512 <@UALICE1>",
            "ts": "1773481000.000100",
        }
    )
    await until(lambda: events(bot, 1, "message"), what="the message")
    await bot.sender.event(
        {
            "type": "reaction_added",
            "user": "UALICE1",
            "reaction": "pushpin",
            "item": {"type": "message", "channel": channel, "ts": "1773481000.000100"},
        }
    )
    await until(lambda: _pinned(bot), what="the pin")
    bot.clock.advance(minutes=5)
    await command(bot, "status monitoring", channel)
    bot.clock.advance(minutes=30)

    view = await open_resolve_form(bot, channel)
    assert view["callback_id"] == "incident_resolve"
    labels = [b["label"]["text"] for b in view["blocks"]]
    assert labels[0] == "Root cause"
    assert {
        "Users affected",
        "Revenue impact",
        "What went well",
        "What could be improved",
        "Action items",
    } <= set(labels)

    response = await bot.sender.submit_view(
        view,
        {
            "root_cause": text_value("Deploy 4512 exhausted the DB pool"),
            "impact_users": text_value("~1,200"),
            "impact_revenue": text_value("~$3,000"),
            "went_well": text_value("Fast rollback\nGood comms"),
            "to_improve": text_value("Canary deploys"),
            "action_items": text_value("Bob: add pool alarm — due 2026-03-21"),
        },
    )
    assert response.status_code == 200 and response.text == ""
    upload = (await bot.slack.wait_for("files.completeUploadExternal"))[0]
    await drained(bot)

    stored = await incident(bot, 1)
    assert stored.status == "resolved" and stored.root_cause == "Deploy 4512 exhausted the DB pool"
    assert (stored.resolved_at - stored.declared_at).total_seconds() == 42 * 60
    assert [e.kind for e in await events(bot, 1)][-1] == "resolved"

    # The channel is told, #incidents gets the summary, the root message says Resolved.
    channel_texts = [c.args["text"] for c in posts_to(bot.slack, channel)]
    assert any("INC-1 resolved* after 42 min" in t for t in channel_texts)
    summaries = [c.args["text"] for c in posts_to(bot.slack, INCIDENTS)]
    summary = next(t for t in summaries if "*INC-1 — Site down* (Resolved)" in t)
    lines = summary.splitlines()
    assert len(lines) == 5  # the runbook's 5-line summary
    assert lines[1] == "*Severity:* P1 — Critical"
    assert lines[2] == "*Duration:* 42 min (resolved 2026-03-14 10:12 UTC)"
    assert lines[3] == "*Root cause:* Deploy 4512 exhausted the DB pool"
    [file_id] = list(bot.slack.files)
    assert lines[4] == (
        f"*Channel:* <#{channel}> · <https://test.slack.com/files/UBOT/"
        f"{file_id}/INC-1-postmortem.md|postmortem>"
    )
    root = bot.slack.channels[INCIDENTS].message(stored.root_ts)
    assert "Resolved" in block_text(root["blocks"])

    # The postmortem draft: uploaded as Markdown to the channel and stored, with the timeline.
    assert upload.args["channel_id"] == channel
    [file] = bot.slack.files.values()
    markdown = file.content.decode()
    assert file.name == "INC-1-postmortem.md"
    assert markdown == stored.postmortem_md
    assert markdown.startswith("## Incident: Site down — 2026-03-14")
    for line in (
        "- 09:30 — First alert / detection",
        "- 09:30 — Incident declared",
        "- 09:37 — Root cause identified",
        "- 09:42 — Fix deployed",
        "- 10:12 — Incident resolved",
        "- Duration: 42 minutes",
        "- Users affected: ~1,200",
        "- Revenue impact: ~$3,000",
        "- Fast rollback",
        "- Canary deploys",
        "- [ ] Bob: add pool alarm — due 2026-03-21",
        "Deploy 4512 exhausted the DB pool",
    ):
        assert line in markdown, line
    key_section = markdown.split("### Key moments")[1].split("###")[0]
    # Slack markup turned into Markdown; the message keeps the time Slack gave it (ts).
    assert "- 09:36 — @UBOB1: bad deploy 4512 @UALICE1" in key_section
    assert "<@" not in markdown and "&lt;" not in markdown
    assert "| 09:37 | @UALICE1 | set status Investigating → **Identified** |" in markdown


async def test_root_cause_is_required(bot):
    inc = await declare(bot, "P2 Slow")
    view = await open_resolve_form(bot, inc.channel_id)
    response = await bot.sender.submit_view(view, {"root_cause": text_value("  ")})
    assert response.json() == {
        "response_action": "errors",
        "errors": {"root_cause": "The root cause is required."},
    }
    assert (await incident(bot, 1)).status == "investigating"


async def test_status_resolved_opens_the_same_form_and_resolved_incidents_stay_resolved(bot):
    inc = await declare(bot, "P3 Emails bouncing")
    view = await open_resolve_form(bot, "CGENERAL1", "status INC-1 resolved")
    assert view["callback_id"] == "incident_resolve"
    await bot.sender.submit_view(view, {"root_cause": text_value("Resend outage")})
    await bot.slack.wait_for("files.completeUploadExternal")
    await drained(bot)
    upload = bot.slack.calls_to("files.completeUploadExternal")[0].args
    assert upload["channel_id"] == INCIDENTS and upload["thread_ts"] == inc.root_ts

    await bot.sender.command("resolve INC-1")
    reply = (await bot.slack.wait_for_response(count=2))[-1]
    assert "already resolved" in reply["text"]
    # A second submission of a stale form changes nothing.
    await bot.sender.submit_view(view, {"root_cause": text_value("Something else")})
    await bot.slack.wait_for(
        "chat.postMessage", where=lambda c: "already resolved" in c.args.get("text", "")
    )
    assert (await incident(bot, 1)).root_cause == "Resend outage"


async def test_three_resolve_submissions_at_once_resolve_once(bot):
    import asyncio

    inc = await declare(bot, "P1 Site down")
    view = await open_resolve_form(bot, inc.channel_id)
    await asyncio.gather(
        *(
            bot.sender.submit_view(view, {"root_cause": text_value(f"cause {i}")}, user=user)
            for i, user in enumerate(("UALICE1", "UBOB1", "UCAROL1"))
        )
    )
    await bot.slack.wait_for("files.completeUploadExternal")
    await drained(bot)
    assert len(await events(bot, 1, "resolved")) == 1
    assert len(bot.slack.calls_to("files.completeUploadExternal")) == 1
    summaries = [c for c in posts_to(bot.slack, INCIDENTS) if "(Resolved)" in c.args["text"]]
    assert len(summaries) == 1
