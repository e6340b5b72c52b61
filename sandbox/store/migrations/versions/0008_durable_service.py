"""Durable service: job leases, shared console sessions and sign-in throttle, retention,
dataset withdrawal.

- ``jobs``: ``attempt``, ``lease_owner``, ``lease_expires_at`` (the durable queue),
  ``seed`` (tests only), ``output_deleted_at`` (retention).
- ``console_sessions`` and ``sign_in_failures``: what one API process kept in memory,
  now shared by every process on the database.
- ``datasets``: ``withdrawn_at`` and ``withdrawn_reason`` (a tombstone).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_owner", sa.String(100), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("seed", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("output_deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_jobs_lease_expires_at", ["lease_expires_at"])
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("withdrawn_reason", sa.Text(), nullable=False, server_default="")
        )
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("token_id", sa.Integer(), sa.ForeignKey("api_tokens.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_token_id", "console_sessions", ["token_id"])
    op.create_index("ix_console_sessions_last_seen_at", "console_sessions", ["last_seen_at"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_failures_address", "sign_in_failures", ["address"])
    op.create_index("ix_sign_in_failures_at", "sign_in_failures", ["at"])


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    op.drop_table("console_sessions")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("withdrawn_reason")
        batch.drop_column("withdrawn_at")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_lease_expires_at")
        batch.drop_column("output_deleted_at")
        batch.drop_column("seed")
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
        batch.drop_column("attempt")
