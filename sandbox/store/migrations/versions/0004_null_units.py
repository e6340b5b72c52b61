"""Rows without a privacy unit, counted at ingest.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Datasets ingested before the count existed read NULL, "not counted" (a 0 would claim
    # every row has a unit): jobs drop such rows either way, and a steward who wants the
    # figure ingests the dataset again.
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("null_unit_rows", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("null_unit_rows")
