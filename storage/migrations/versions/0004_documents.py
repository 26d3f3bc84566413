"""The postmortem's link, and workspace-wide jobs (the daily digest).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("postmortem_url", sa.String))
    op.create_table(
        "job_run",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("last_run_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_run")
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("postmortem_url")
