"""Migrating alone: the revision check, a production start on an old schema, the commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from pydantic import SecretStr

from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.store.db import Database, SchemaNotAtHead
from tests.factories import RefusingRunner

SECRET = SecretStr("a production secret of more than 32 characters")
METRICS_TOKEN = "a production metrics token, 32 characters or more"


def _behind(db: Database) -> str:
    """Migrate ``db`` to the revision before head; that revision."""
    config = Database._alembic_config()
    previous = ScriptDirectory.from_config(config).get_revision(Database.head()).down_revision
    assert isinstance(previous, str)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, previous)
    return previous


def test_revision_when_migrated_step_by_step_then_at_head_only_at_the_end(db_url: str):
    db = Database(db_url)
    assert db.revision() is None and not db.at_head()
    previous = _behind(db)
    assert db.revision() == previous and not db.at_head()
    with pytest.raises(SchemaNotAtHead, match="run `sandbox admin migrate`") as refused:
        db.check_at_head()
    assert previous in str(refused.value) and Database.head() in str(refused.value)
    db.migrate()
    assert db.revision() == Database.head() and db.at_head()
    db.check_at_head()
    db.dispose()


def test_start_when_production_on_an_old_schema_then_refused_and_not_migrated(
    tmp_path: Path, db_url: str
):
    settings = Settings(
        data_dir=tmp_path / "data", database_url=db_url, environment="production",
        secret_key=SECRET, metrics_token=METRICS_TOKEN,
    )  # fmt: skip
    db = Database(db_url)
    previous = _behind(db)
    sandbox = Sandbox(settings, runner=RefusingRunner())
    with pytest.raises(SchemaNotAtHead, match="sandbox admin migrate"):
        sandbox.start()
    assert db.revision() == previous  # the service did not migrate
    db.migrate()
    sandbox.start()  # at head: it starts
    sandbox.close()
    db.dispose()


def test_start_when_development_then_it_migrates_as_before(tmp_path: Path, db_url: str):
    sandbox = Sandbox(
        Settings(data_dir=tmp_path / "data", database_url=db_url), runner=RefusingRunner()
    )
    sandbox.start()
    assert sandbox.db.at_head()
    sandbox.close()


def _sandbox(data_dir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    env["SANDBOX_DATA_DIR"] = str(data_dir)
    env |= {f"SANDBOX_{k.upper()}": v for k, v in settings.items()}
    return subprocess.run(
        [sys.executable, "-m", "sandbox.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_cli_when_production_schema_is_old_then_serve_refuses_until_migrate(tmp_path: Path):
    production = {
        "environment": "production",
        "secret_key": SECRET.get_secret_value(),
        "metrics_token": METRICS_TOKEN,
    }
    served = _sandbox(tmp_path, "serve", "--port", "1", **production)
    assert served.returncode == 2, served.stderr
    said = " ".join(served.stderr.split())  # the console wraps long lines
    assert "run `sandbox admin migrate`" in said and "Traceback" not in said
    bootstrap = _sandbox(tmp_path, "admin", "bootstrap", **production)
    assert bootstrap.returncode == 2 and "sandbox admin migrate" in bootstrap.stderr
    migrated = _sandbox(tmp_path, "admin", "migrate", **production)
    assert migrated.returncode == 0 and "migrated from (empty) to" in migrated.stdout
    again = _sandbox(tmp_path, "admin", "migrate", **production)
    assert again.returncode == 0 and "already" in again.stdout
    assert _sandbox(tmp_path, "admin", "bootstrap", **production).returncode == 0
