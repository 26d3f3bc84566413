"""Runbook step runs (actions, approvals, checklist ticks) and the posted runbook message.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("runbook_ts", sa.String))
    op.create_table(
        "step_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("runbook_id", sa.String, nullable=False),
        sa.Column("step_id", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("requested_by", sa.String, nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("inputs", sa.Text),
        sa.Column("decided_by", sa.String),
        sa.Column("decided_at", UTCDateTime()),
        sa.Column("reason", sa.Text),
        sa.Column("break_glass", sa.Boolean, nullable=False),
        sa.Column("approval_ts", sa.String),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("http_status", sa.Integer),
        sa.Column("elapsed_ms", sa.Integer),
        sa.Column("summary", sa.Text),
    )
    op.create_index("ix_step_run_incident_step", "step_run", ["incident_id", "step_id", "id"])
    live = sa.text("state IN ('awaiting_approval', 'approved', 'running')")
    op.create_index(
        "uq_step_run_live",
        "step_run",
        ["incident_id", "step_id"],
        unique=True,
        sqlite_where=live,
        postgresql_where=live,
    )


def downgrade() -> None:
    op.drop_index("uq_step_run_live", table_name="step_run")
    op.drop_index("ix_step_run_incident_step", table_name="step_run")
    op.drop_table("step_run")
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("runbook_ts")
