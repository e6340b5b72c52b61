"""Audit entries carry a MAC under a key kept outside the database.

Entries written before this revision keep a null MAC: the key lives in the
deployment secret, which a migration cannot see, and a MAC computed now would
vouch for whatever the table holds today. ``sandbox audit verify`` reports
them as the prefix "entries 1..N predate MACs".

Revision ID: 0007
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("mac", sa.String(64), nullable=True))
        batch.add_column(sa.Column("mac_key", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("mac_key")
        batch.drop_column("mac")
