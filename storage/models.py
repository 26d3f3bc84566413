"""SQLModel tables. Each schema change comes with an Alembic migration in migrations/versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
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
    declared_at: datetime = _utc()  # type: ignore[assignment]
    resolved_at: datetime | None = _utc(nullable=True)  # type: ignore[assignment]
    root_cause: str | None = Field(default=None, sa_column=Column(Text))
    impact_users: str | None = None
    impact_revenue: str | None = None
    went_well: str | None = Field(default=None, sa_column=Column(Text))
    to_improve: str | None = Field(default=None, sa_column=Column(Text))
    action_items: str | None = Field(default=None, sa_column=Column(Text))
    postmortem_md: str | None = Field(default=None, sa_column=Column(Text))
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


class ProcessedEvent(SQLModel, table=True):
    """Events API deliveries already handled, so Slack's retries are processed once."""

    __tablename__ = "processed_event"

    event_id: str = Field(primary_key=True)
    received_at: datetime = _utc()  # type: ignore[assignment]
