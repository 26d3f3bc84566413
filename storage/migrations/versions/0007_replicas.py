"""Several replicas on one database: who is alive, who owns in-flight work, and the
gap-free incident counter.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replica",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "counter",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    # Numbering goes on from the incidents already declared.
    op.execute(
        "INSERT INTO counter (name, value) SELECT 'incident', COALESCE(MAX(id), 0) FROM incident"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("owner", sa.String))
    with op.batch_alter_table("step_run") as batch:
        batch.add_column(sa.Column("owner", sa.String))


def downgrade() -> None:
    with op.batch_alter_table("step_run") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("owner")
    op.drop_table("counter")
    op.drop_table("replica")
