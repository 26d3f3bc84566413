"""Who has opened the App Home tab, so a change to an incident republishes theirs.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_viewer",
        sa.Column("user_id", sa.String, primary_key=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("home_viewer")
