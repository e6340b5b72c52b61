"""Backup and restore, on SQLite and PostgreSQL: a deployment with a released product is
backed up, destroyed and restored; the product downloads with a valid signature and
the ledger is unchanged. Then what restore refuses, and the command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from jobs.runner import Outcome, Task, execute
from policies.errors import Conflict, InvalidRequest
from sandbox.access.auth import authenticate
from sandbox.audit import chain as audit
from sandbox.audit import signing
from sandbox.service import Sandbox
from sandbox.service import backup as backups
from sandbox.service.withdraw import withdraw
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Dataset, Grant, LedgerEntry
from sandbox.web.app import create_app
from tests.factories import RefusingRunner, World, build_world, wait_status

SECRET = "backup-test-secret-" + "k" * 40


class InProcessRunner:
    """The real executor, without Ray."""

    def run(self, task: Task) -> Outcome:
        return execute(task)


def _settings(data_dir: Path, url: str, secret: str = SECRET) -> Settings:
    return Settings(data_dir=data_dir, database_url=url, secret_key=SecretStr(secret))


def _ledger(db: Database) -> dict[str, Any]:
    with db.session() as s:
        entries = [
            (e.grant_id, e.dataset_id, e.job_id, e.period, e.epsilon, e.rho, e.delta)
            for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        ]
        grants = [
            (g.id, g.epsilon_spent, g.delta_spent, g.epsilon_total, g.state.value)
            for g in s.scalars(select(Grant).order_by(Grant.id))
        ]
        head = audit.head(s)
    return {"entries": entries, "grants": grants, "head": head}


@pytest.fixture
def released(tmp_path: Path, db_url: str) -> Iterator[tuple[Settings, World, int, dict[str, Any]]]:
    """A deployment with one released product; its service is stopped before the test acts."""
    settings = _settings(tmp_path / "data", db_url)
    sandbox = Sandbox(settings, runner=InProcessRunner())
    with TestClient(create_app(sandbox)) as http:
        world = build_world(http, sandbox)
        job_id = int(world.submit(epsilon=0.5, group_by=["city"]).json()["id"])
        wait_status(world, job_id, {"awaiting_review"})
        review = http.post(
            f"/v1/jobs/{job_id}/review",
            headers=world.as_("steward"),
            json={"decision": "approve", "reason": "aggregates, checks pass"},
        )
        assert review.status_code == 200, review.text
        before = {
            "output": http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator")).content,
            "grant": world.grant(),
            "ledger": _ledger(sandbox.db),
        }
    yield settings, world, job_id, before


@pytest.fixture
def fresh_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """Where the destroyed deployment's database is restored: a new, empty database."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    from tests.conftest import POSTGRES_URL

    name = f"sandbox_restore_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _backup(settings: Settings, dest: Path) -> backups.Backup:
    db = Database(settings.db_url, audit_key=audit.mac_key(settings.secret()))
    try:
        return backups.create(db, settings, dest)
    finally:
        db.dispose()


def _destroy(settings: Settings) -> None:
    shutil.rmtree(settings.data_dir)
    if settings.db_url.startswith("sqlite"):
        path = Path(sa.engine.make_url(settings.db_url).database or "")
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            file.unlink(missing_ok=True)


@pytest.mark.slow
def test_restore_when_deployment_destroyed_then_release_verifies_and_ledger_is_unchanged(
    released: tuple[Settings, World, int, dict[str, Any]], fresh_url: str, tmp_path: Path
):
    settings, world, job_id, before = released
    made = _backup(settings, tmp_path / "backup")
    manifest = json.loads((made.path / backups.MANIFEST).read_text())
    assert manifest["key_fingerprint"] == backups.key_fingerprint(SECRET.encode())
    assert manifest["alembic_revision"] == Database.head() == made.revision
    assert not (made.path / "files" / "secret_key").exists()
    names = {e["path"] for e in manifest["files"]}
    assert f"files/releases/job-{job_id}.parquet" in names
    assert any(n.startswith("files/datasets/residents-") for n in names)
    _destroy(settings)

    restored_settings = _settings(settings.data_dir, fresh_url)
    done = backups.restore(restored_settings, made.path)
    assert done.datasets == 1 and done.releases == 1 and done.audit_entries > 0

    sandbox = Sandbox(restored_settings, runner=RefusingRunner())
    with TestClient(create_app(sandbox)) as http:
        operator = world.as_("operator")
        output = http.get(f"/v1/jobs/{job_id}/output", headers=operator)
        assert output.status_code == 200 and output.content == before["output"]
        release = http.get(f"/v1/jobs/{job_id}/manifest", headers=operator).json()
        key = http.get("/v1/manifests/public-key").text
        assert signing.verify(key, release["manifest"], release["signature"])
        assert release["manifest"]["output"]["sha256"] == hashlib.sha256(output.content).hexdigest()
        grant = http.get(f"/v1/grants/{world.grant_id}", headers=world.as_("steward")).json()
        assert grant == before["grant"]
        after = _ledger(sandbox.db)
        assert after["entries"] == before["ledger"]["entries"] and after["entries"]
        assert after["grants"] == before["ledger"]["grants"]
        with sandbox.db.session() as s:
            actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
        # the backup's own entry was appended after the snapshot; the restore's, then the download
        assert "backup.create" not in actions
        assert actions[-2:] == ["backup.restore", "output.download"]


def test_backup_when_a_dataset_is_withdrawn_after_the_snapshot_then_it_is_taken_again(
    released: tuple[Settings, World, int, dict[str, Any]],
    fresh_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    settings, world, *_ = released
    db = Database(settings.db_url, audit_key=audit.mac_key(settings.secret()))
    steward = authenticate(db, world.steward)
    snapshots: list[object] = []

    def then_withdraw(copy: Callable[[Any, Path], None]) -> Callable[[Any, Path], None]:
        def copied(source: Any, target: Path) -> None:
            copy(source, target)
            snapshots.append(source)
            if len(snapshots) == 1:  # the snapshot names the dataset; its files go now
                withdraw(db, settings, steward, "residents", "the source licence ended")

        return copied

    monkeypatch.setattr(backups, "_sqlite_copy", then_withdraw(backups._sqlite_copy))
    monkeypatch.setattr(backups, "_pg_dump", then_withdraw(backups._pg_dump))
    try:
        made = backups.create(db, settings, tmp_path / "backup")
    finally:
        db.dispose()
    taken = len(snapshots)
    _destroy(settings)
    restored = _settings(settings.data_dir, fresh_url)
    done = backups.restore(restored, made.path)  # every active dataset's files are there
    assert done.datasets == 0
    assert taken == 2  # taken again: the second snapshot has the tombstone
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    again = Database(restored.db_url)
    try:
        with again.session() as s:
            dataset = s.scalars(select(Dataset)).one()
            assert dataset.withdrawn_at is not None
    finally:
        again.dispose()


def test_backup_when_folder_not_empty_then_refused_and_nothing_written(
    released: tuple[Settings, World, int, dict[str, Any]], tmp_path: Path
):
    settings = released[0]
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "note.txt").write_text("someone's file")
    with pytest.raises(Conflict, match="not an empty folder"):
        _backup(settings, dest)
    assert [p.name for p in dest.iterdir()] == ["note.txt"]
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_restore_when_refused_then_it_says_why(
    released: tuple[Settings, World, int, dict[str, Any]], fresh_url: str, tmp_path: Path
):
    settings, *_ = released
    made = _backup(settings, tmp_path / "backup")
    # the deployment it was taken from is not empty
    with pytest.raises(Conflict, match="empty"):
        backups.restore(settings, made.path)
    _destroy(settings)
    # another secret
    other = _settings(settings.data_dir, fresh_url, secret="another-secret-" + "z" * 40)
    with pytest.raises(InvalidRequest, match="SANDBOX_SECRET_KEY"):
        backups.restore(other, made.path)
    # another data folder: the catalog names absolute paths
    elsewhere = _settings(tmp_path / "elsewhere", fresh_url)
    with pytest.raises(InvalidRequest, match="SANDBOX_DATA_DIR"):
        backups.restore(elsewhere, made.path)
    # a backup of another version's schema: restored by that version, then migrated
    _rewrite(made.path, alembic_revision="0001")
    with pytest.raises(InvalidRequest, match="restore with the version that took it"):
        backups.restore(_settings(settings.data_dir, fresh_url), made.path)
    _rewrite(made.path, alembic_revision=Database.head())
    # a file altered after the backup
    manifest = json.loads((made.path / backups.MANIFEST).read_text())
    part = next(e["path"] for e in manifest["files"] if e["path"].startswith("files/datasets/"))
    original = (made.path / part).read_bytes()
    (made.path / part).write_bytes(original + b"x")
    target = _settings(settings.data_dir, fresh_url)
    with pytest.raises(InvalidRequest, match="does not match its checksum"):
        backups.restore(target, made.path)
    (made.path / part).write_bytes(original)
    # a manifest altered after the backup
    (made.path / backups.MANIFEST).write_text(json.dumps({**manifest, "dialect": "other"}))
    with pytest.raises(InvalidRequest, match="altered"):
        backups.restore(target, made.path)
    assert not settings.data_dir.exists()  # nothing restored by a refused restore


def _rewrite(folder: Path, *, sign: bool = True, **fields: Any) -> None:
    """Change the manifest's fields, its checksum with them and, when ``sign``, its MAC (as
    only a holder of the secret could)."""
    manifest = json.loads((folder / backups.MANIFEST).read_text()) | fields
    text = json.dumps(manifest).encode()
    (folder / backups.MANIFEST).write_bytes(text)
    (folder / backups.MANIFEST_SUM).write_text(hashlib.sha256(text).hexdigest() + "  x\n")
    if sign:
        (folder / backups.MANIFEST_MAC).write_text(backups.manifest_mac(SECRET.encode(), text))


def test_restore_when_manifest_forged_then_refused_and_nothing_written(
    released: tuple[Settings, World, int, dict[str, Any]], fresh_url: str, tmp_path: Path
):
    settings, *_ = released
    made = _backup(settings, tmp_path / "backup")
    _destroy(settings)
    target = _settings(settings.data_dir, fresh_url)
    manifest = json.loads((made.path / backups.MANIFEST).read_text())
    original = manifest["files"]
    outside = settings.data_dir.parent / "planted"
    (made.path / "files" / "planted").write_bytes(b"planted")
    planted = {"sha256": hashlib.sha256(b"planted").hexdigest(), "bytes": 7}
    # even signed with the secret: an entry restored outside the data folder...
    _rewrite(made.path, files=[*original, {"path": "files/../planted", **planted}])
    (made.path / "planted").write_bytes(b"planted")
    with pytest.raises(InvalidRequest, match="outside the backed-up folders"):
        backups.restore(target, made.path)
    # ...an absolute one...
    outside.write_bytes(b"planted")
    _rewrite(made.path, files=[*original, {"path": str(outside), **planted}])
    with pytest.raises(InvalidRequest, match="outside"):
        backups.restore(target, made.path)
    outside.unlink()
    # ...a database that is another file of the backup
    _rewrite(made.path, files=original, database=original[-1]["path"])
    with pytest.raises(InvalidRequest, match="database"):
        backups.restore(target, made.path)
    # unsigned: a file added and the SHA-256 recomputed, without the secret
    _rewrite(made.path, sign=False, files=[*original, {"path": "files/uploads/x", **planted}])
    (made.path / "files" / "uploads").mkdir(exist_ok=True)
    (made.path / "files" / "uploads" / "x").write_bytes(b"planted")
    with pytest.raises(InvalidRequest, match="altered"):
        backups.restore(target, made.path)
    assert not settings.data_dir.exists() and not outside.exists()
    if fresh_url.startswith("sqlite"):
        assert not Path(sa.engine.make_url(fresh_url).database or "").exists()


def _sandbox_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    clean |= {f"SANDBOX_{k.upper()}": v for k, v in env.items()}
    return subprocess.run(
        [sys.executable, "-m", "sandbox.cli.main", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_cli_restore_when_dataset_files_differ_from_catalog_then_exit_1_naming_it(
    released: tuple[Settings, World, int, dict[str, Any]], fresh_url: str, tmp_path: Path
):
    settings, *_ = released
    env = {"data_dir": str(settings.data_dir), "database_url": settings.db_url}
    env["secret_key"] = SECRET
    made = _sandbox_cli("admin", "backup", "--to", str(tmp_path / "backup"), **env)
    assert made.returncode == 0, made.stderr
    assert "backup written" in made.stdout
    folder = tmp_path / "backup"
    # a dataset file changed, and the manifest rewritten to match: only the catalog knows
    manifest = json.loads((folder / backups.MANIFEST).read_text())
    entry = next(e for e in manifest["files"] if e["path"].startswith("files/datasets/"))
    (folder / entry["path"]).write_bytes(b"not the ingested partition")
    entry |= {
        "sha256": hashlib.sha256(b"not the ingested partition").hexdigest(),
        "bytes": len(b"not the ingested partition"),
    }
    _rewrite(folder, files=manifest["files"])  # by a holder of the secret
    _destroy(settings)
    env["database_url"] = fresh_url
    restored = _sandbox_cli("admin", "restore", str(folder), **env)
    assert restored.returncode == 1, restored.stderr
    said = " ".join(restored.stderr.split())  # the console wraps long lines
    assert "residents" in said and "do not match the catalog" in said
    assert "Traceback" not in said
