"""Steward hierarchies: generalization hierarchies stored with a dataset, for extracts.

- ``dataset_hierarchies``: one per dataset and column, named (unique per dataset), the
  table in ARX's CSV format, its height (``levels``) and line count, who stored it and when.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_hierarchies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("csv", sa.Text(), nullable=False),
        sa.Column("levels", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "column"),
        sa.UniqueConstraint("dataset_id", "name"),
    )
    with op.batch_alter_table("dataset_hierarchies") as batch:
        batch.create_index(
            batch.f("ix_dataset_hierarchies_dataset_id"), ["dataset_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dataset_hierarchies") as batch:
        batch.drop_index(batch.f("ix_dataset_hierarchies_dataset_id"))
    op.drop_table("dataset_hierarchies")
