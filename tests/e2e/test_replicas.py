"""Several replicas on one database: every effect happens once.

Two bots share one database and one signing secret, as behind a load balancer: incident
numbers stay unique and gap-free under concurrent declares, and two real `python -m bot`
processes on one PostgreSQL, sent the same event, racing for the same due clocks and given
both halves of a double-clicked approval, do each thing exactly once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from storage.db import Database
from tests.conftest import (
    ADMIN_COOKIE,
    APPROVERS,
    BACKUP,
    BOTH_DATABASES,
    CRON_SECRET,
    INCIDENTS,
    PRIMARY,
    SIGNING_SECRET,
)
from tests.fakes.slack_api import FakeSlack
from tests.support.alerts import ALERT_SECRET, alerts, cards, fixture, post_alert
from tests.support.db import drained, events, incident, incidents, outbox, until
from tests.support.flows import posts_to
from tests.support.process import BotProcess, process_env
from tests.support.runbook_ui import decide, press, wait_approval
from tests.support.slack_sender import SlackSender, text_value

# Twelve different titles: the same title twice would (rightly) get the "similar incident" prompt.
NAMES = (
    "Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot",
    "Golf", "Hotel", "India", "Juliett", "Kilo", "Lima",
)  # fmt: skip
APPROVER, OTHER_APPROVER = APPROVERS


@BOTH_DATABASES
async def test_concurrent_declares_on_two_replicas_are_numbered_without_gaps(start_bot, slack):
    first, second = await start_bot(), await start_bot()
    await asyncio.gather(
        *(
            (first, second)[i % 2].sender.command(f"declare P3 {name} outage", user="UALICE1")
            for i, name in enumerate(NAMES)
        )
    )

    async def all_stored() -> list[Any] | None:
        rows = await incidents(first)
        return rows if len(rows) == len(NAMES) else None

    rows = await until(all_stored, what="every declared incident")
    assert [row.id for row in rows] == list(range(1, len(NAMES) + 1))
    await drained(first)
    roots = [c.args["text"] for c in posts_to(slack, INCIDENTS)]
    for number in range(1, len(NAMES) + 1):
        assert len([t for t in roots if t.startswith(f":large_yellow_circle: INC-{number} ")]) == 1


@dataclass
class Replica:
    """What the shared test helpers need of a bot: who sends to it, the fake Slack, and the
    database (which the test reads directly: it is the truth)."""

    process: BotProcess
    sender: SlackSender
    slack: FakeSlack
    services: Any


@pytest.fixture
async def shared_db(database_url: str) -> Any:
    db = Database(database_url)
    yield db
    await db.close()


@pytest.fixture
async def replicas(database_url, shared_db, slack, target, processes) -> Any:
    started: list[Replica] = []
    for _ in range(2):
        env = process_env(
            slack.base_url,
            database_url,
            SERVICE_URL=target.url,
            ADMIN_SESSION_COOKIE=ADMIN_COOKIE,
            CRON_SECRET=CRON_SECRET,
            INCIDENT_APPROVERS=",".join(APPROVERS),
            ONCALL_PRIMARY=PRIMARY,
            ONCALL_BACKUP=BACKUP,
            # Real processes keep real time: clocks due a second after the declare.
            ESCALATE_AFTER="1s",
            STATUS_PAGE_AFTER="1s",
            CLOCK_INTERVAL="0.05",
            SLACK_POST_INTERVAL="0",
        )
        process = BotProcess(env)
        processes.append(process)
        await process.start()
        sender = SlackSender(f"http://127.0.0.1:{process.port}", SIGNING_SECRET, slack.response_url)
        started.append(Replica(process, sender, slack, SimpleNamespace(db=shared_db)))
    yield started
    for replica in started:
        await replica.sender.close()


def dms(slack: FakeSlack, user: str) -> list[Any]:
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.args.get("channel") == user and not c.failed
    ]


def ok_calls(slack: FakeSlack, method: str) -> list[Any]:
    return [c for c in slack.calls_to(method) if not c.failed]


async def settle(*replicas: Replica) -> None:
    """Let both processes make several scheduler and outbox passes (they run real time)."""
    await asyncio.sleep(0.5)
    await drained(replicas[0])


@pytest.mark.parametrize("backend", ["postgres"])
async def test_two_processes_on_one_postgres_do_every_effect_once(replicas, slack, target):
    a, b = replicas
    response = await a.sender.command("declare P1 Site down --runbook site-down")
    assert response.status_code == 200
    inc = await until(lambda: _with_runbook_message(a), what="the runbook message")
    channel = inc.channel_id

    # The same delivery reaches both replicas (Slack retried, the balancer split them).
    message = {
        "type": "message",
        "channel": channel,
        "user": "UBOB1",
        "text": "bad deploy 4512",
        "ts": "1700000500.000100",
    }
    await asyncio.gather(
        a.sender.event(message, event_id="EvSAME0001"),
        b.sender.event(message, event_id="EvSAME0001"),
    )
    await until(lambda: events(a, inc.id, "message"), what="the message on the timeline")

    # Both schedulers race for the escalation and the status-page reminder, due after 1 s.
    await slack.wait_for("chat.postMessage", where=lambda c: c.args.get("channel") == BACKUP)
    await until(lambda: events(a, inc.id, "reminder"), what="the status-page reminder")

    # An approval double-clicked across the two replicas.
    await press(a, channel, "Enable maintenance mode")
    form = (await slack.wait_for("views.open"))[-1].args["view"]
    await b.sender.submit_view(form, {"input:message": text_value("Back soon")})
    await wait_approval(a, channel)
    target.delay("/api/admin/maintenance", 0.3)
    await asyncio.gather(
        decide(a, channel, "Approve", APPROVER),
        decide(b, channel, "Approve", OTHER_APPROVER),
        decide(b, channel, "Approve", APPROVER),  # the double click, on the other replica
    )
    replies = await slack.wait_for_response(
        count=2, where=lambda r: "Already approved by" in r.get("text", "")
    )
    await until(lambda: _finished(a, inc.id), what="the action's result")
    await settle(a, b)

    assert len(replies) == 2
    assert len(target.requests_to("/api/admin/maintenance", method="POST")) == 1
    assert [e.text for e in await events(a, inc.id, "message")] == ["bad deploy 4512"]
    assert len(await events(a, inc.id, "escalation")) == 1
    assert len(dms(slack, BACKUP)) == 1 and len(dms(slack, PRIMARY)) == 1
    reminders = [e.text for e in await events(a, inc.id, "reminder")]
    assert reminders == ["reminded the team to post on the public status page"]
    # Every Slack write of the outbox went out once, none given up.
    for method in ("conversations.create", "pins.add", "bookmarks.add"):
        assert len(ok_calls(slack, method)) == 1, method
    approvals = [
        c for c in ok_calls(slack, "chat.postMessage") if c.args["text"].startswith("Approval")
    ]
    assert len(approvals) == 1
    assert [r.state for r in await outbox(a) if r.state != "done"] == []
    for replica in replicas:
        assert "Traceback" not in replica.process.stderr_tail()


async def _with_runbook_message(replica: Replica) -> Any:
    rows = await incidents(replica)
    if rows and rows[0].runbook_ts:
        await drained(replica)
        return await incident(replica, rows[0].id)
    return None


async def _finished(replica: Replica, number: int) -> bool:
    return any(e.kind == "action" for e in await events(replica, number))


@BOTH_DATABASES
async def test_the_same_alert_sent_to_two_replicas_at_once_makes_one_card(start_bot, slack):
    first = await start_bot(alert_webhook_secret=ALERT_SECRET)
    second = await start_bot(alert_webhook_secret=ALERT_SECRET)
    body = fixture("generic_disk_warning.json")
    answers = await asyncio.gather(
        *(post_alert(replica, "generic", body) for _ in range(3) for replica in (first, second))
    )
    assert [a.status_code for a in answers] == [202] * 6
    [alert] = await alerts(first)
    assert alert.count == 6
    await drained(first)
    assert len(cards(slack)) == 1
