"""Partitioned datasets, privacy unit, public keys, classification evidence, query cache.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("partitions", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("privacy_unit", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("public_keys", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("dataset_columns") as batch:
        batch.add_column(
            sa.Column("tag_source", sa.String(length=20), nullable=False, server_default="steward")
        )
        batch.add_column(
            sa.Column("proposed_tag", sa.String(length=20), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("evidence", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("nullable", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("rho", sa.Float(), nullable=False),
        sa.Column("delta", sa.Float(), nullable=False),
        sa.Column("conversion_delta", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["grant_id"], ["grants.id"]),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ledger_entries") as batch:
        batch.create_index("ix_ledger_entries_grant_id", ["grant_id"])
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("min_cell", sa.Integer(), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("spec_hash", sa.String(length=64), nullable=False, server_default="")
        )
        batch.create_index("ix_jobs_spec_hash", ["spec_hash"])


def downgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("min_cell")
    op.drop_table("ledger_entries")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_spec_hash")
        batch.drop_column("spec_hash")
    with op.batch_alter_table("dataset_columns") as batch:
        batch.drop_column("nullable")
        batch.drop_column("evidence")
        batch.drop_column("proposed_tag")
        batch.drop_column("tag_source")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("public_keys")
        batch.drop_column("privacy_unit")
        batch.drop_column("partitions")
