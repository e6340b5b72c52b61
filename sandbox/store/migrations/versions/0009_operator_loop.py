"""The operator's loop: commitments accepted by the firm, group-size bands for estimates.

- ``grants``: ``commitment_required`` (the steward sets it for a conditional dataset,
  art. 34), ``commitment_accepted_by`` and ``commitment_accepted_at`` (the operator firm's
  own acceptance, recorded and audited). ``commitment_accepted`` stays: true once accepted.
- ``datasets``: ``group_size_bands`` (the steward's declared expected group sizes per
  column, used by estimates; ``{}``: none declared).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.add_column(
            sa.Column(
                "commitment_required", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(
            sa.Column(
                "commitment_accepted_by",
                sa.Integer(),
                sa.ForeignKey("users.id", name="fk_grants_commitment_accepted_by"),
                nullable=True,
            )
        )
        batch.add_column(
            sa.Column("commitment_accepted_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(
            sa.Column("group_size_bands", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("group_size_bands")
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("commitment_accepted_at")
        batch.drop_column("commitment_accepted_by")
        batch.drop_column("commitment_required")
