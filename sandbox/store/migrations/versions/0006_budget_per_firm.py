"""Budgets per firm × dataset across grants, with steward-started budget periods.

Revision ID: 0006
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "firm_budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("period_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_started_by", sa.Integer(), nullable=True),
        sa.Column("period_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["period_started_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "dataset_id"),
    )
    # Existing charges all belong to every firm's first period (rows are made on first use).
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("period", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("period")
    op.drop_table("firm_budgets")
