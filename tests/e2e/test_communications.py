"""Status updates, summaries, the digest and documents, as Slack sees them."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import INCIDENTS
from tests.support.db import drained, events, incident, incidents, scheduler_pass, until
from tests.support.flows import block_text, declare, opened_form, posts_to
from tests.support.slack_sender import select_value, text_value


async def resolve(bot, channel, cause="bad deploy"):
    form = await opened_form(bot.slack, bot.sender.command("resolve", channel=channel))
    await bot.sender.submit_view(form, {"root_cause": text_value(cause)})
    await until(lambda: events(bot, 1, "resolved"), what="resolved")
    await drained(bot)


async def test_resolve_posts_the_public_resolved_text_ready_to_copy(bot):
    inc = await declare(bot, "P1 Site down")
    await resolve(bot, inc.channel_id, "Deploy 4512 & friends")
    told = next(c for c in posts_to(bot.slack, inc.channel_id) if "resolved*" in c.args["text"])
    copy = block_text(told.args["blocks"])
    assert (
        "BuildFlow AI service has been restored. We apologize for the disruption. "
        "Root cause: Deploy 4512 &amp; friends."
    ) in copy


async def test_breach_resolve_uploads_the_user_email_with_the_deadline(bot):
    await bot.sender.command("declare")
    form = (await bot.slack.wait_for("views.open"))[0].args["view"]
    await bot.sender.submit_view(
        form,
        {
            "title": text_value("Customer data exposed"),
            "severity": select_value("P1"),
            "runbook": select_value("data-breach"),
            "detected_at": text_value("2026-03-14 08:00"),
        },
    )
    await until(lambda: _channel(bot))
    await drained(bot)
    inc = await incident(bot, 1)
    await resolve(bot, inc.channel_id, "Leaked admin token")
    names = {f.name: f for f in bot.slack.files.values()}
    assert set(names) == {"INC-1-postmortem.md", "INC-1-breach-notice.md"}
    notice = names["INC-1-breach-notice.md"]
    text = notice.content.decode()
    assert text.startswith("Subject: Important Security Notice — Action Required")
    assert "notify affected users by **2026-03-17 08:00 UTC**" in text
    assert notice.channel == inc.channel_id
    assert "notify them by 2026-03-17 08:00 UTC" in notice.initial_comment


async def _channel(bot):
    rows = await incidents(bot)
    return rows and rows[0].channel_id


async def test_summary_command_posts_in_the_channel(bot):
    inc = await declare(bot, "P2 Checkout <slow>")
    await bot.sender.command("summary", channel=inc.channel_id)
    [reply] = await bot.slack.wait_for_response(
        where=lambda r: r.get("response_type") == "in_channel"
    )
    lines = reply["text"].splitlines()
    assert lines[0] == ":rotating_light: *INC-1 — Checkout &lt;slow&gt;* (Investigating)"
    assert lines[2].startswith("*Duration:* 0 min so far")


async def test_postmortem_command_rerenders_with_edits_since(bot):
    inc = await declare(bot, "P1 Site down")
    await resolve(bot, inc.channel_id)
    await bot.sender.command("note added after resolve", channel=inc.channel_id)
    await until(lambda: events(bot, 1, "note"))
    await bot.sender.command("postmortem", channel=inc.channel_id)
    await bot.slack.wait_for("files.completeUploadExternal", count=2)
    await drained(bot)
    latest = list(bot.slack.files.values())[-1].content.decode()
    assert "added after resolve" in latest
    assert (await incident(bot, 1)).postmortem_md == latest


async def test_daily_digest_once_a_day_and_only_with_news(bot):
    await scheduler_pass(bot)  # the first pass only notes when the bot started
    assert _digests(bot) == []
    bot.clock.set(datetime(2026, 3, 15, 9, 0, tzinfo=UTC))
    await scheduler_pass(bot)
    assert _digests(bot) == []  # nothing open, nothing resolved: nothing said

    inc = await declare(bot, "P2 Search broken")
    form = await opened_form(bot.slack, bot.sender.command("update", channel=inc.channel_id))
    await bot.sender.submit_view(form, {"update_text": text_value("Reindexing, ETA 1h")})
    await until(lambda: events(bot, 1, "update"))
    bot.clock.advance(days=1)
    await scheduler_pass(bot)
    await scheduler_pass(bot)
    [digest] = _digests(bot)
    assert "*Incident digest — 2026-03-16*" in digest
    assert "INC-1 P2 · Search broken · Investigating · open 1 d 0 h" in digest
    assert "Reindexing, ETA 1h" in digest


def _digests(bot):
    return [
        c.args["text"]
        for c in posts_to(bot.slack, INCIDENTS)
        if "Incident digest" in c.args["text"]
    ]


async def test_templates_dir_overrides_the_shipped_templates(start_bot, tmp_path):
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "status_outage.txt.j2").write_text(
        "{{ product }} is down ({{ incident.ref }}, {{ incident.severity }}). We are on it.\n"
    )
    bot = await start_bot(templates_dir=str(mine), product_name="Acme")
    inc = await declare(bot, "P1 Site down")
    form = await opened_form(bot.slack, bot.sender.command("update", channel=inc.channel_id))
    draft = form["blocks"][0]["element"]["initial_value"]
    assert draft.startswith("Acme is down (INC-1, P1). We are on it.")
    assert draft.endswith("Current status: Investigating.")  # the shipped template, still used


async def test_postmortem_edit_changes_action_items_and_reposts(bot):
    inc = await declare(bot, "P1 Site down")
    await resolve(bot, inc.channel_id, "bad deploy")
    form = await opened_form(
        bot.slack, bot.sender.command("postmortem edit", channel=inc.channel_id)
    )
    assert form["callback_id"] == "incident_review"
    root = next(b for b in form["blocks"] if b["block_id"] == "root_cause")
    assert root["element"]["initial_value"] == "bad deploy"
    await bot.sender.submit_view(
        form,
        {
            "root_cause": text_value("bad deploy 4512"),
            "action_items": text_value("Bob: add a pool alarm — due 2026-03-21"),
        },
    )
    await bot.slack.wait_for("files.completeUploadExternal", count=2)
    await drained(bot)
    latest = list(bot.slack.files.values())[-1].content.decode()
    assert "- [ ] Bob: add a pool alarm — due 2026-03-21" in latest
    assert "bad deploy 4512" in latest
    assert [e.kind for e in await events(bot, 1, "review")] == ["review"]
