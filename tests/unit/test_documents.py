"""Rendering on fixed incidents, compared with golden files (exact match).

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, then review the diff."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.documents import Documents, document_events
from bot.runbooks import DEFAULT_RUNBOOK_DIR, load_runbooks
from bot.templates import Templates
from storage.models import Incident, StepRun, TimelineEvent

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
T0 = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
FIELDS = {
    "product": "BuildFlow AI",
    "status_page_url": "https://status.buildflow-ai.app",
    "support_email": "support@buildflow-ai.app",
}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def documents() -> Documents:
    return Documents(Templates(), load_runbooks(DEFAULT_RUNBOOK_DIR), FIELDS, "CINCIDENTS")


def incident(**changes: object) -> Incident:
    values: dict[str, object] = dict(
        id=7,
        title="Site down: 503 <everywhere> & more",
        severity="P1",
        status="resolved",
        commander_id="UCAROL",
        declared_by="UALICE",
        declared_at=T0,
        resolved_at=at(42),
        root_cause="Deploy 4512 exhausted the DB pool",
        impact_users="~1,200",
        impact_revenue="~$3,000",
        went_well="Fast rollback\n- Good comms",
        to_improve="Canary deploys",
        action_items="Bob: pool alarm — due 2026-03-21",
        channel_id="C777",
        channel_name="inc-20260314-7-site-down",
        runbook_id="site-down",
        last_update="Rolled back, watching",
        last_update_at=at(30),
    )
    values.update(changes)
    return Incident(**values)  # type: ignore[arg-type]


def timeline() -> list[TimelineEvent]:
    def event(minutes: int, actor: str, kind: str, text: str, **extra: object) -> TimelineEvent:
        return TimelineEvent(
            incident_id=7, at=at(minutes), actor=actor, kind=kind, text=text, **extra
        )  # type: ignore[arg-type]

    return [
        event(-5, "UALICE", "detected", "first detected"),
        event(0, "UALICE", "declared", "declared P1: Site down"),
        event(
            7,
            "UALICE",
            "status",
            "set status Investigating → *Identified*",
            data='{"from": "investigating", "to": "identified"}',
        ),
        event(
            8, "UBOB", "message", "bad deploy 4512 <@UALICE> | see <https://x.io|dash>", key=True
        ),
        event(9, "UBOB", "message", "typo", deleted=True),
        event(
            12,
            "UALICE",
            "status",
            "set status Identified → *Monitoring*",
            data='{"from": "identified", "to": "monitoring"}',
        ),
        event(42, "UCAROL", "resolved", ":white_check_mark: resolved."),
    ]


def runs() -> list[StepRun]:
    return [
        StepRun(
            incident_id=7,
            runbook_id="site-down",
            step_id="check-health",
            kind="http",
            state="succeeded",
            requested_by="UALICE",
            requested_at=at(3),
            finished_at=at(3),
            summary="HTTP 503 in 40 ms · status=unhealthy",
        ),
        StepRun(
            incident_id=7,
            runbook_id="site-down",
            step_id="maintenance-on",
            kind="http",
            state="succeeded",
            requested_by="UALICE",
            requested_at=at(4),
            decided_by="UDAVE",
            decided_at=at(5),
            finished_at=at(5),
            summary="HTTP 200 in 80 ms",
        ),
        StepRun(
            incident_id=7,
            runbook_id="data-breach",
            step_id="force-logout",
            kind="http",
            state="succeeded",
            requested_by="UALICE",
            requested_at=at(6),
            break_glass=True,
            reason="approvers asleep",
            finished_at=at(6),
            summary="HTTP 200 in 90 ms",
        ),
        StepRun(
            incident_id=7,
            runbook_id="data-breach",
            step_id="rotate-nextauth-secret",
            kind="check",
            state="ticked",
            requested_by="UBOB",
            requested_at=at(20),
        ),
    ]


def check_golden(name: str, rendered: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered)
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 and review it"
    assert rendered == path.read_text()


def test_postmortem_golden(documents):
    check_golden(
        "postmortem.md", documents.postmortem(incident(), document_events(timeline()), runs())
    )


def test_breach_notice_golden(documents):
    breach = incident(
        runbook_id="data-breach",
        breach_detected_at=at(-300),
        description="Unusual exports of the User table",
    )
    check_golden("breach_notice.md", documents.breach_notice(breach, runs()))


def test_status_texts_golden(documents):
    texts = "\n---\n".join(
        [
            documents.status_outage(incident(status="investigating")),
            documents.status_update(incident(status="identified")),
            documents.status_resolved(incident()),
        ]
    )
    check_golden("status_texts.txt", texts + "\n")


def test_summary_golden(documents):
    check_golden(
        "summary.slack", documents.summary(incident(), at(42), "https://slack/files/x") + "\n"
    )


def test_digest_golden(documents):
    now = at(24 * 60)
    open_one = incident(
        id=8, status="identified", resolved_at=None, severity="P2", title="Checkout <!here> slow"
    )
    private = incident(
        id=9,
        status="investigating",
        resolved_at=None,
        private=True,
        title="Secret breach",
        last_update=None,
        last_update_at=None,
    )
    overdue = incident(id=5, declared_at=at(-3000), resolved_at=at(-2900))
    check_golden(
        "digest.slack", documents.digest(now, [open_one, private], [incident()], [overdue]) + "\n"
    )


def test_markdown_has_no_slack_markup_and_slack_text_is_escaped(documents):
    markdown = documents.postmortem(incident(), document_events(timeline()), runs())
    assert "<@" not in markdown and "&lt;" not in markdown and "<https" not in markdown
    assert "[dash](https://x.io)" in markdown and "typo" not in markdown
    summary = documents.summary(incident(), at(42), None)
    assert "&lt;everywhere&gt; &amp; more" in summary and "<everywhere>" not in summary


def test_private_incidents_show_no_details_in_the_digest_or_summary(documents):
    secret = dict(
        private=True,
        title="Secret breach of Acme",
        root_cause="token in Acme logs",
        last_update="Acme rotating keys",
        last_update_at=at(30),
    )
    now = at(24 * 60)
    digest = documents.digest(
        now,
        [incident(id=9, status="identified", resolved_at=None, **secret)],
        [incident(id=10, **secret)],
        [incident(id=11, declared_at=at(-3000), resolved_at=at(-2900), **secret)],
    )
    assert "Acme" not in digest
    assert digest.count("private incident") == 3 and "[private]" in digest
    assert "Acme" not in documents.summary(incident(**secret), now, None)
    # In its own channel the summary may say everything.
    assert "Acme" in documents.summary(incident(**secret), now, None, public=False)
