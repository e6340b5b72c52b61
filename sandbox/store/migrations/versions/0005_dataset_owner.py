"""Datasets belong to a bureau and carry a public, noisy row count.

``org_id`` is backfilled from the organisation of the user who ingested the
dataset; ``public_row_count`` is drawn once for every existing dataset with
the same mechanism as a new ingest (:func:`sandbox.catalog.facts.public_row_count`).

Revision ID: 0005
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from sandbox.catalog.facts import public_row_count

    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("org_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("public_row_count", sa.BigInteger(), nullable=False, server_default="0")
        )
    bind = op.get_bind()
    datasets = sa.table(
        "datasets",
        sa.column("id", sa.Integer()),
        sa.column("row_count", sa.BigInteger()),
        sa.column("created_by", sa.Integer()),
        sa.column("org_id", sa.Integer()),
        sa.column("public_row_count", sa.BigInteger()),
    )
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("org_id", sa.Integer()))
    rows = bind.execute(
        sa.select(datasets.c.id, datasets.c.row_count, users.c.org_id).join(
            users, users.c.id == datasets.c.created_by
        )
    ).all()
    for dataset_id, row_count, org_id in rows:
        bind.execute(
            datasets.update()
            .where(datasets.c.id == dataset_id)
            .values(org_id=org_id, public_row_count=public_row_count(int(row_count)))
        )
    with op.batch_alter_table("datasets") as batch:
        batch.alter_column("org_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_datasets_org_id_organisations", "organisations", ["org_id"], ["id"]
        )
        batch.create_index("ix_datasets_org_id", ["org_id"])


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_index("ix_datasets_org_id")
        batch.drop_constraint("fk_datasets_org_id_organisations", type_="foreignkey")
        batch.drop_column("public_row_count")
        batch.drop_column("org_id")
