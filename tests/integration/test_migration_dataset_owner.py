"""Migration 0005: existing datasets get their owning bureau and a public row count."""

from __future__ import annotations

import datetime as dt
from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from sandbox.store.db import Database


def _upgrade(db: Database, revision: str) -> None:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("sandbox") / "store" / "migrations")
    )
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_migration_when_datasets_exist_then_owner_is_the_ingesting_users_org_and_count_public(
    db_url: str,
):
    db = Database(db_url)
    try:
        _upgrade(db, "0003")
        now = dt.datetime.now(dt.UTC)
        meta = sa.MetaData()
        with db.engine.begin() as conn:
            orgs, users, datasets = (
                sa.Table(n, meta, autoload_with=conn)
                for n in ("organisations", "users", "datasets")
            )
            conn.execute(
                orgs.insert(),
                [
                    {"id": 1, "name": "bureau a", "kind": "bureau", "created_at": now},
                    {"id": 2, "name": "bureau b", "kind": "bureau", "created_at": now},
                ],
            )
            conn.execute(
                users.insert(),
                [
                    {
                        "id": 1,
                        "name": "a",
                        "role": "steward",
                        "org_id": 1,
                        "active": True,
                        "created_at": now,
                    },
                    {
                        "id": 2,
                        "name": "b",
                        "role": "steward",
                        "org_id": 2,
                        "active": True,
                        "created_at": now,
                    },
                ],
            )
            base = {
                "description": "",
                "source": "s",
                "open_attribute": "unconditional",
                "grade": "general",
                "path": "/nowhere",
                "sha256": "0" * 64,
                "row_count": 600,
                "partitions": 1,
                "public_keys": {},
                "created_at": now,
            }
            conn.execute(
                datasets.insert(),
                [
                    base | {"id": 1, "name": "of_a", "created_by": 1},
                    base | {"id": 2, "name": "of_b", "created_by": 2},
                ],
            )
        db.migrate()
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT name, org_id, public_row_count FROM datasets ORDER BY id")
            ).all()
        assert [(r[0], r[1]) for r in rows] == [("of_a", 1), ("of_b", 2)]
        assert all(r[2] > 0 for r in rows)  # drawn, not left at zero
    finally:
        db.dispose()
