"""SQLModel tables. Each schema change comes with an Alembic migration in migrations/versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _utc(index: bool = False, nullable: bool = False) -> object:
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


class Incident(SQLModel, table=True):
    __tablename__ = "incident"

    # The primary key is the public number: INC-<id>.
    id: int | None = Field(default=None, primary_key=True)
    title: str
    severity: str
    status: str = "investigating"
    commander_id: str
    declared_by: str
    description: str | None = Field(default=None, sa_column=Column(Text))
    runbook_id: str | None = None
    private: bool = False
    channel_id: str | None = Field(default=None, index=True)
    channel_name: str | None = None
    root_ts: str | None = Field(default=None, index=True)
    header_ts: str | None = None
    # The posted runbook message (steps as buttons), in the channel or the thread.
    runbook_ts: str | None = None
    declared_at: datetime = _utc()  # type: ignore[assignment]
    resolved_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    root_cause: str | None = Field(default=None, sa_column=Column(Text))
    impact_users: str | None = None
    impact_revenue: str | None = None
    went_well: str | None = Field(default=None, sa_column=Column(Text))
    to_improve: str | None = Field(default=None, sa_column=Column(Text))
    action_items: str | None = Field(default=None, sa_column=Column(Text))
    postmortem_md: str | None = Field(default=None, sa_column=Column(Text))
    postmortem_url: str | None = None
    acknowledged_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    acknowledged_by: str | None = None
    last_update_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    last_update: str | None = Field(default=None, sa_column=Column(Text))
    status_page_posted_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    postmortem_done_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    breach_detected_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    notified_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    archived_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    # Bumped on every change so concurrent writers can compare-and-set.
    version: int = 1


class TimelineEvent(SQLModel, table=True):
    __tablename__ = "timeline_event"
    __table_args__ = (
        Index("ix_timeline_incident_at", "incident_id", "at"),
        UniqueConstraint("slack_channel", "slack_ts", name="uq_timeline_slack_message"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    at: datetime = _utc()  # type: ignore[assignment]
    actor: str
    kind: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    slack_channel: str | None = None
    slack_ts: str | None = None
    key: bool = False
    deleted: bool = False
    # Structured detail of the event (e.g. {"to": "identified"}), as JSON text.
    data: str | None = Field(default=None, sa_column=Column(Text))
    # Earlier versions of an edited message, newest last, as JSON text.
    history: str | None = Field(default=None, sa_column=Column(Text))


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_lane", "state", "lane", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    lane: str
    incident_id: int | None = None
    op: str
    payload: str = Field(sa_column=Column(Text, nullable=False))
    state: str = "pending"
    attempts: int = 0
    not_before: datetime = _utc()  # type: ignore[assignment]
    created_at: datetime = _utc()  # type: ignore[assignment]
    done_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    last_error: str | None = None
    # The replica delivering it while `sending`; taken over only once that replica is dead.
    owner: str | None = None


class ProcessedEvent(SQLModel, table=True):
    """Events API deliveries already handled, so Slack's retries are processed once."""

    __tablename__ = "processed_event"

    event_id: str = Field(primary_key=True)
    received_at: datetime = _utc()  # type: ignore[assignment]


LIVE_STATES = ("awaiting_approval", "approved", "running")
LIVE_WHERE = "state IN ('awaiting_approval', 'approved', 'running')"


class StepRun(SQLModel, table=True):
    """One press of a runbook step: an action run (with its approval) or a checklist tick.

    `state` moves only by compare-and-set updates, so a double click, a redelivery or two
    approvers at once cannot run an action twice."""

    __tablename__ = "step_run"
    __table_args__ = (
        Index("ix_step_run_incident_step", "incident_id", "step_id", "id"),
        # At most one live run per step: the database, not a check in Python, refuses the
        # second of two simultaneous clicks.
        Index(
            "uq_step_run_live",
            "incident_id",
            "step_id",
            unique=True,
            sqlite_where=text(LIVE_WHERE),
            postgresql_where=text(LIVE_WHERE),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    runbook_id: str
    step_id: str
    kind: str
    state: str
    requested_by: str
    requested_at: datetime = _utc()  # type: ignore[assignment]
    # User-supplied inputs (never settings or secrets), as JSON text.
    inputs: str | None = Field(default=None, sa_column=Column(Text))
    decided_by: str | None = None
    decided_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    reason: str | None = Field(default=None, sa_column=Column(Text))
    break_glass: bool = False
    approval_ts: str | None = None
    started_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    finished_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    http_status: int | None = None
    elapsed_ms: int | None = None
    # What is shown to people: status line and chosen fields, already redacted.
    summary: str | None = Field(default=None, sa_column=Column(Text))
    # The replica that will run (or is running) it; only a dead owner's run is "unknown".
    owner: str | None = None


class Clock(SQLModel, table=True):
    """A promise with a time in it (escalate at 15 min, remind at 30 min, archive at 7 d).

    Written in the same transaction as the event that starts it; the scheduler fires a due
    row by moving it from `pending` to `fired` with a compare-and-set, in the transaction that
    also writes what the firing does, so it fires once even across restarts and replicas."""

    __tablename__ = "clock"
    __table_args__ = (Index("ix_clock_state_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    kind: str
    due_at: datetime = _utc()  # type: ignore[assignment]
    state: str = "pending"
    data: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _utc()  # type: ignore[assignment]
    fired_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]


class JobRun(SQLModel, table=True):
    """When a workspace-wide job (the daily digest) last ran; moved by compare-and-set so it
    runs once per slot across restarts and replicas."""

    __tablename__ = "job_run"

    name: str = Field(primary_key=True)
    last_run_at: datetime = _utc()  # type: ignore[assignment]
    # What a periodic job carries from one run to the next (the health watch's streaks), JSON.
    data: str | None = Field(default=None, sa_column=Column(Text))


class Alert(SQLModel, table=True):
    """A signal from monitoring (a webhook or the health watch) that may start an incident.

    `state` moves by compare-and-set (`open` → `declared` | `dismissed`), so two people clicking
    Declare or Dismiss at once change it once. Repeats of the same `dedup_key` within the
    dedup window only bump `count` and `last_at`."""

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_dedup_last", "dedup_key", "last_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    dedup_key: str
    title: str
    severity: str
    runbook_id: str | None = None
    service: str | None = None
    link: str | None = None
    details: str | None = Field(default=None, sa_column=Column(Text))
    # open (a card with Declare/Dismiss), declared, dismissed, attached (to an open incident).
    state: str = "open"
    count: int = 1
    first_at: datetime = _utc()  # type: ignore[assignment]
    last_at: datetime = _utc()  # type: ignore[assignment]
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    card_ts: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    recovered_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]


class HomeViewer(SQLModel, table=True):
    """Someone who opened the bot's App Home tab: their Home is republished (debounced) when
    an incident they can see changes. A table rather than memory, so replicas and restarts
    keep refreshing it."""

    __tablename__ = "home_viewer"

    user_id: str = Field(primary_key=True)
    opened_at: datetime = _utc(index=True)  # type: ignore[assignment]


class Counter(SQLModel, table=True):
    """Numbers handed out gap-free (INC-<n>): bumped inside the transaction that uses the
    number, so a rolled-back declare gives it back and two replicas never share one."""

    __tablename__ = "counter"

    name: str = Field(primary_key=True)
    value: int = 0


class Replica(SQLModel, table=True):
    """A running bot process sharing this database; `seen_at` is its heartbeat."""

    __tablename__ = "replica"

    id: str = Field(primary_key=True)
    started_at: datetime = _utc()  # type: ignore[assignment]
    seen_at: datetime = _utc()  # type: ignore[assignment]
