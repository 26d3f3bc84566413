"""Alerts from monitoring webhooks and the health watch; state for periodic jobs.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("dedup_key", sa.String, nullable=False),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("severity", sa.String, nullable=False),
        sa.Column("runbook_id", sa.String),
        sa.Column("service", sa.String),
        sa.Column("link", sa.String),
        sa.Column("details", sa.Text),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incident.id")),
        sa.Column("card_ts", sa.String),
        sa.Column("decided_by", sa.String),
        sa.Column("decided_at", UTCDateTime()),
        sa.Column("recovered_at", UTCDateTime()),
    )
    op.create_index("ix_alert_dedup_last", "alert", ["dedup_key", "last_at"])
    with op.batch_alter_table("job_run") as batch:
        batch.add_column(sa.Column("data", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("job_run") as batch:
        batch.drop_column("data")
    op.drop_index("ix_alert_dedup_last", table_name="alert")
    op.drop_table("alert")
