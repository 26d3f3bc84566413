"""Incidents, their timeline, the Slack outbox and processed events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("severity", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("commander_id", sa.String, nullable=False),
        sa.Column("declared_by", sa.String, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("runbook_id", sa.String),
        sa.Column("private", sa.Boolean, nullable=False),
        sa.Column("channel_id", sa.String, index=True),
        sa.Column("channel_name", sa.String),
        sa.Column("root_ts", sa.String, index=True),
        sa.Column("header_ts", sa.String),
        sa.Column("declared_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime()),
        sa.Column("root_cause", sa.Text),
        sa.Column("impact_users", sa.String),
        sa.Column("impact_revenue", sa.String),
        sa.Column("went_well", sa.Text),
        sa.Column("to_improve", sa.Text),
        sa.Column("action_items", sa.Text),
        sa.Column("postmortem_md", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "timeline_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("slack_channel", sa.String),
        sa.Column("slack_ts", sa.String),
        sa.Column("key", sa.Boolean, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("data", sa.Text),
        sa.Column("history", sa.Text),
        sa.UniqueConstraint("slack_channel", "slack_ts", name="uq_timeline_slack_message"),
    )
    op.create_index("ix_timeline_incident_at", "timeline_event", ["incident_id", "at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lane", sa.String, nullable=False),
        sa.Column("incident_id", sa.Integer),
        sa.Column("op", sa.String, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime()),
        sa.Column("last_error", sa.String),
    )
    op.create_index("ix_outbox_state_lane", "outbox", ["state", "lane", "id"])
    op.create_table(
        "processed_event",
        sa.Column("event_id", sa.String, primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("processed_event")
    op.drop_index("ix_outbox_state_lane", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_timeline_incident_at", table_name="timeline_event")
    op.drop_table("timeline_event")
    op.drop_table("incident")
