"""An approval killed (SIGKILL) at each step of a release, then a fresh service start.

The approval runs in a subprocess that kills itself at one step: before the
transaction commits, right after it commits, before the released file is
renamed into ``releases/``, right after. A fresh service over the same data
folder and database must then hold no file in ``releases/`` without a
committed release, and every committed release's file with its SHA-256;
the grantee downloads it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from jobs.runner import Outcome, Task, execute
from policies.airlock import Decision
from sandbox.access import auth
from sandbox.airlock import review as airlock
from sandbox.audit import chain as audit
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Job, Release
from sandbox.web.app import create_app
from tests.factories import World, build_world, wait_status

#: The approval, killed at one step (argv: data folder, database URL, token, job id, step).
_APPROVE = """
import os, signal, sys
from pathlib import Path
from sqlalchemy import event
from sqlalchemy.orm import Session
from policies.airlock import Decision
from sandbox.airlock import review as airlock
from sandbox.audit import chain as audit
from sandbox.access import auth
from sandbox.settings import Settings
from sandbox.store.db import Database

data_dir, url, token, job_id, step = sys.argv[1:]
settings = Settings(data_dir=Path(data_dir), database_url=url)
db = Database(url, audit_key=audit.mac_key(settings.secret()))
who = auth.authenticate(db, token)
releases = settings.releases_dir.resolve()

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if step in ("before_commit", "after_commit"):
    event.listen(Session, step, die)
else:
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        into_releases = Path(dst).resolve().parent == releases
        if into_releases and step == "before_rename":
            die()
        real_replace(src, dst, *args, **kwargs)
        if into_releases and step == "after_rename":
            die()

    os.replace = replace
airlock.review(db, settings, who, int(job_id), Decision.APPROVE, "looks fine to release")
print("the approval was not killed")
"""
STEPS = ["before_commit", "after_commit", "before_rename", "after_rename"]
#: Approvals of several jobs at once, killed when the third file lands in ``releases/``.
_APPROVE_MANY = """
import os, signal, sys, threading
from pathlib import Path
from policies.airlock import Decision
from sandbox.airlock import review as airlock
from sandbox.audit import chain as audit
from sandbox.access import auth
from sandbox.settings import Settings
from sandbox.store.db import Database

data_dir, url, token, *ids = sys.argv[1:]
settings = Settings(data_dir=Path(data_dir), database_url=url)
db = Database(url, audit_key=audit.mac_key(settings.secret()))
who = auth.authenticate(db, token)
releases = settings.releases_dir.resolve()
real_replace, lock, landed = os.replace, threading.Lock(), []

def replace(src, dst, *args, **kwargs):
    real_replace(src, dst, *args, **kwargs)
    if Path(dst).resolve().parent == releases:
        with lock:
            landed.append(dst)
            if len(landed) == 3:
                os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
barrier = threading.Barrier(len(ids))

def approve(job_id):
    barrier.wait()
    airlock.review(db, settings, who, int(job_id), Decision.APPROVE, "looks fine to release")

threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("the approvals were not killed")
"""


class InProcessRunner:
    """The real executor, without Ray."""

    def run(self, task: Task) -> Outcome:
        return execute(task)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


@pytest.fixture
def awaiting(settings: Settings) -> Iterator[tuple[World, list[int]]]:
    """A world with two jobs awaiting review; the service is stopped before the test acts."""
    sandbox = Sandbox(settings, runner=InProcessRunner())
    with TestClient(create_app(sandbox)) as http:
        world = build_world(http, sandbox)
        ids = [int(world.submit(epsilon=0.5, group_by=g).json()["id"]) for g in (["city"], [])]
        for job_id in ids:
            wait_status(world, job_id, {"awaiting_review"})
    yield world, ids


def _published(folder: Path) -> set[str]:
    """The names in ``releases/`` but young temporary copies (the killed process's copy
    is one: recovery leaves it to a later start, another process might be writing it)."""
    young = {p.name for p in folder.glob("*.partial") if time.time() - p.stat().st_mtime < 600}
    return {p.name for p in folder.iterdir()} - young


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_release_when_approval_is_killed_at_a_step_then_restart_leaves_no_stray_file_and_finishes(
    settings: Settings, awaiting: tuple[World, list[int]], step: str
):
    world, (job_id, other_id) = awaiting
    # what an older process may have left: a copy for a job still awaiting review, a temp file
    settings.releases_dir.mkdir(parents=True, exist_ok=True)
    (settings.releases_dir / f"job-{other_id}.parquet").write_bytes(b"never released")
    partial = settings.releases_dir / f".job-{other_id}.parquet.x.partial"
    partial.write_bytes(b"half")
    _age(partial)  # a young temporary copy may be another process's: kept
    args = [str(settings.data_dir), settings.db_url, world.steward, str(job_id), step]
    killed = subprocess.run(
        [sys.executable, "-c", _APPROVE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert killed.returncode == -9, killed.stderr[-2000:]

    restarted = Sandbox(settings, runner=InProcessRunner())
    with TestClient(create_app(restarted)) as http:  # start: recovery
        with restarted.db.session() as s:
            releases = {r.job_id: r for r in s.scalars(select(Release))}
            status = s.get(Job, job_id).status  # type: ignore[union-attr]
            recovered = s.scalars(
                select(AuditEntry).where(AuditEntry.action == "release.recover")
            ).all()
        files = _published(settings.releases_dir)
        expected = {r.manifest["output"]["file"]: r for r in releases.values()}
        assert files == set(expected)  # nothing in releases/ that no committed release names
        for name, release in expected.items():
            assert _sha256(settings.releases_dir / name) == release.manifest["output"]["sha256"]
        assert len(recovered) == 1 and f"job-{other_id}.parquet" in recovered[0].details["removed"]
        if step == "before_commit":
            assert status == "awaiting_review" and not releases
            approved = http.post(
                f"/v1/jobs/{job_id}/review",
                headers=world.as_("steward"),
                json={"decision": "approve", "reason": "looks fine to release"},
            )
            assert approved.status_code == 200, approved.text
        else:
            assert status == "released" and set(releases) == {job_id}
        download = http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
        assert download.status_code == 200, download.text
        assert hashlib.sha256(download.content).hexdigest() == download.headers["X-Content-SHA256"]
        assert _published(settings.releases_dir) == {f"job-{job_id}.parquet"}


def _age(path: Path, seconds: float = 3600) -> None:
    """Make ``path`` look ``seconds`` old."""
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


@pytest.mark.parametrize("damage", ["missing", "hash mismatch"])
def test_download_when_a_released_file_is_lost_or_changed_then_published_again_and_audited(
    settings: Settings,
    awaiting: tuple[World, list[int]],
    damage: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
):
    world, (job_id, _) = awaiting
    sandbox = Sandbox(settings, runner=InProcessRunner())
    with TestClient(create_app(sandbox)) as http:
        approved = http.post(
            f"/v1/jobs/{job_id}/review",
            headers=world.as_("steward"),
            json={"decision": "approve", "reason": "looks fine to release"},
        )
        assert approved.status_code == 200, approved.text
        released = settings.releases_dir / f"job-{job_id}.parquet"
        sha = _sha256(released)
        if damage == "missing":
            released.unlink()  # as if the copy after the commit had been cut short
        else:
            released.write_bytes(b"tampered with")
        real_publish, copies = airlock.publish, []

        def publish(*args: Any) -> Path:
            if sandbox.db.is_sqlite:  # the copy must not hold SQLite's write lock
                probe = sqlite3.connect(settings.db_url.removeprefix("sqlite:///"), timeout=0.1)
                try:
                    probe.execute("BEGIN IMMEDIATE")
                finally:
                    probe.close()
            copies.append(args)
            return real_publish(*args)

        monkeypatch.setattr(airlock, "publish", publish)
        with caplog.at_level(logging.WARNING, logger="sandbox.airlock.review"):
            download = http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
        assert download.status_code == 200, download.text
        assert hashlib.sha256(download.content).hexdigest() == sha == _sha256(released)
        assert copies
        with sandbox.db.session() as s:
            [entry] = s.scalars(
                select(AuditEntry).where(AuditEntry.action == "release.republish")
            ).all()
            assert (entry.subject, entry.details) == (f"job:{job_id}", {"reason": damage})
        assert [r.getMessage() for r in caplog.records] == [
            f"job {job_id}: released file {damage}, published again"
        ]


def test_release_recovery_when_releases_holds_symlinks_and_temp_copies_then_starts_and_cleans(
    settings: Settings, awaiting: tuple[World, list[int]], tmp_path: Path
):
    _, (job_id, other_id) = awaiting
    folder = settings.releases_dir
    folder.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"not ours")
    (folder / "linked-dir").symlink_to(outside, target_is_directory=True)
    (folder / f"job-{other_id}.parquet").symlink_to(outside / "keep.txt")
    young = folder / f".job-{job_id}.parquet.a.partial"  # another process may be copying
    young.write_bytes(b"half")
    old = folder / f".job-{job_id}.parquet.b.partial"
    old.write_bytes(b"half")
    _age(old)
    restarted = Sandbox(settings, runner=InProcessRunner())
    with TestClient(create_app(restarted)):
        assert {p.name for p in folder.iterdir()} == {young.name}
        assert (outside / "keep.txt").read_bytes() == b"not ours"  # symlinks not followed
        with restarted.db.session() as s:
            [entry] = s.scalars(
                select(AuditEntry).where(AuditEntry.action == "release.recover")
            ).all()
        assert sorted(entry.details["removed"]) == sorted(
            [old.name, "linked-dir", f"job-{other_id}.parquet"]
        )


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_release_recovery_when_another_process_releases_meanwhile_then_its_file_stays(
    settings: Settings, awaiting: tuple[World, list[int]], monkeypatch: pytest.MonkeyPatch
):
    world, (job_id, other_id) = awaiting
    db = Database(settings.db_url, audit_key=audit.mac_key(settings.secret()))
    steward = auth.authenticate(db, world.steward)
    airlock.review(db, settings, steward, job_id, Decision.APPROVE, "looks fine to release")
    real_iterdir, released_meanwhile = Path.iterdir, []

    def iterdir(self: Path) -> Iterator[Path]:
        if self == settings.releases_dir and not released_meanwhile:
            # another API process: its release commits after recovery read the releases
            airlock.review(db, settings, steward, other_id, Decision.APPROVE, "fine as well")
            released_meanwhile.append(other_id)
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    restarted = Sandbox(settings, runner=InProcessRunner())
    with TestClient(create_app(restarted)) as http:
        assert released_meanwhile == [other_id]
        names = {p.name for p in real_iterdir(settings.releases_dir)}
        assert names == {f"job-{job_id}.parquet", f"job-{other_id}.parquet"}
        download = http.get(f"/v1/jobs/{other_id}/output", headers=world.as_("operator"))
        assert download.status_code == 200, download.text
    db.dispose()


@pytest.mark.slow
def test_release_when_concurrent_approvals_are_killed_then_restart_keeps_releases_consistent(
    settings: Settings, awaiting: tuple[World, list[int]]
):
    world, first = awaiting
    sandbox = Sandbox(settings, runner=InProcessRunner())
    with TestClient(create_app(sandbox)) as http:
        world.http = http
        more = [int(world.submit(epsilon=0.2, max_rows_per_unit=k).json()["id"]) for k in (2, 3)]
        more += [int(world.submit(epsilon=0.2, group_by=["age"]).json()["id"])]
        ids = first + more
        for job_id in ids:
            wait_status(world, job_id, {"awaiting_review"})
    args = [str(settings.data_dir), settings.db_url, world.steward, *map(str, ids)]
    killed = subprocess.run(
        [sys.executable, "-c", _APPROVE_MANY, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    restarted = Sandbox(settings, runner=InProcessRunner())
    with TestClient(create_app(restarted)) as http:
        with restarted.db.session() as s:
            releases = list(s.scalars(select(Release)))
            released = set(s.scalars(select(Job.id).where(Job.status == "released")))
        assert {r.job_id for r in releases} == released and len(released) >= 3
        expected = {r.manifest["output"]["file"]: r.manifest["output"]["sha256"] for r in releases}
        assert _published(settings.releases_dir) == set(expected)
        assert all(_sha256(settings.releases_dir / n) == h for n, h in expected.items())
        for job_id in released:
            download = http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
            assert download.status_code == 200, download.text
