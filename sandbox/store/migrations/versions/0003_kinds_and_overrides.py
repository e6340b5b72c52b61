"""Grant settings for extracts and custom jobs; check overrides on reviews.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("extract_k", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("allow_linkage", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("overrides", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("overrides")
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("limits")
        batch.drop_column("allow_linkage")
        batch.drop_column("extract_k")
