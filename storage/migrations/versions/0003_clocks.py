"""Clocks: paging, escalation, reminders and deadlines; what they need on the incident.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TIMES = (
    "acknowledged_at",
    "last_update_at",
    "status_page_posted_at",
    "postmortem_done_at",
    "breach_detected_at",
    "notified_at",
    "archived_at",
)


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        for name in _TIMES:
            batch.add_column(sa.Column(name, UTCDateTime()))
        batch.add_column(sa.Column("acknowledged_by", sa.String))
        batch.add_column(sa.Column("last_update", sa.Text))
    op.create_table(
        "clock",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("data", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("fired_at", UTCDateTime()),
    )
    op.create_index("ix_clock_state_due", "clock", ["state", "due_at"])
    op.create_index("ix_clock_incident_id", "clock", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_clock_incident_id", table_name="clock")
    op.drop_index("ix_clock_state_due", table_name="clock")
    op.drop_table("clock")
    with op.batch_alter_table("incident") as batch:
        for name in (*_TIMES, "acknowledged_by", "last_update"):
            batch.drop_column(name)
