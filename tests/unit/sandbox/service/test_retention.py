"""Retention: rejected, returned and failed outputs leave quarantine after retention_days, once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from policies.airlock import JobStatus
from policies.roles import OrgKind, Role
from sandbox.jobs.lifecycle import transition
from sandbox.service.retention import sweep, sweep_periodically
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Grant, Job, Organisation, User, utcnow

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", retention_days=30)
    settings.quarantine_dir.mkdir(parents=True)
    settings.releases_dir.mkdir(parents=True)
    return settings


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/s.db", audit_key=b"k" * 32)
    database.migrate()
    with database.session() as session:
        firm = Organisation(name="firm", kind=OrgKind.OPERATOR)
        session.add(firm)
        session.flush()
        user = User(name="analyst", role=Role.OPERATOR, org_id=firm.id)
        session.add(user)
        session.flush()
        session.add(
            Grant(
                org_id=firm.id,
                purpose="p",
                kinds=["k"],
                epsilon_total=1,
                delta_total=0,
                expires_at=NOW + dt.timedelta(days=365),
                created_by=user.id,
            )
        )
    yield database
    database.dispose()


def _job(db: Database, settings: Settings, path: list[JobStatus], days_ago: float) -> int:
    """A job walked through ``path`` that finished ``days_ago`` before NOW, with an output."""
    with db.session() as session:
        job = Job(grant_id=1, org_id=1, submitted_by=1, kind="k", spec={}, epsilon=0, delta=0)
        for status in path:
            transition(db, session, job, status, actor="system")
        job.finished_at = NOW - dt.timedelta(days=days_ago)
        job.output_path = str((settings.quarantine_dir / f"job-{job.id}.parquet").resolve())
        (settings.quarantine_dir / f"job-{job.id}.parquet").write_bytes(b"output")
        return job.id


REJECTED = [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.AWAITING_REVIEW, JobStatus.REJECTED]
RETURNED = [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.AWAITING_REVIEW, JobStatus.RETURNED]
FAILED = [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED]
AWAITING = [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.AWAITING_REVIEW]
RELEASED = [*AWAITING, JobStatus.RELEASED]


def _deleted(db: Database) -> list[tuple[str, dict[str, object]]]:
    with db.session() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "job.output_deleted")
        ).all()
        return [(r.subject, r.details) for r in rows]


def test_sweep_when_rejected_and_failed_past_retention_then_their_files_go_once(
    db: Database, settings: Settings
):
    rejected = _job(db, settings, REJECTED, days_ago=31)
    (settings.quarantine_dir / f"job-{rejected}.zip").write_bytes(b"archive")  # a custom job's
    (settings.quarantine_dir / f"job-{rejected}-a2.parquet").write_bytes(b"run")  # a 2nd run's
    failed = _job(db, settings, FAILED, days_ago=40)
    assert sweep(db, settings, NOW) == 2
    assert sorted(p.name for p in settings.quarantine_dir.iterdir()) == []
    with db.session() as session:
        assert all(session.get(Job, i).output_deleted_at for i in (rejected, failed))  # type: ignore[union-attr]
    assert _deleted(db) == [
        (
            f"job:{rejected}",
            {
                "status": "rejected",
                "retention_days": 30,
                "files": [
                    f"job-{rejected}-a2.parquet",
                    f"job-{rejected}.parquet",
                    f"job-{rejected}.zip",
                ],
            },
        ),
        (
            f"job:{failed}",
            {"status": "failed", "retention_days": 30, "files": [f"job-{failed}.parquet"]},
        ),
    ]
    # idempotent: nothing more to do, nothing more audited
    assert sweep(db, settings, NOW + dt.timedelta(days=1)) == 0
    assert len(_deleted(db)) == 2


def test_sweep_when_returned_past_retention_then_its_output_goes_like_a_rejected_one(
    db: Database, settings: Settings
):
    # a returned output never leaves: the operator changes the job and submits a new one
    returned = _job(db, settings, RETURNED, days_ago=31)
    assert sweep(db, settings, NOW) == 1
    assert not (settings.quarantine_dir / f"job-{returned}.parquet").exists()
    assert _deleted(db) == [
        (
            f"job:{returned}",
            {"status": "returned", "retention_days": 30, "files": [f"job-{returned}.parquet"]},
        )
    ]


@pytest.mark.parametrize(
    ("path", "days_ago"),
    [
        (REJECTED, 29),  # rejected, within retention
        (RETURNED, 29),  # returned for changes, within retention
        (FAILED, 29.9),  # failed, within retention
        (RELEASED, 400),  # released: its grantee may download it for ever
        (AWAITING, 400),  # still before a steward
    ],
)
def test_sweep_when_not_due_then_output_kept(
    db: Database, settings: Settings, path: list[JobStatus], days_ago: float
):
    job_id = _job(db, settings, path, days_ago)
    assert sweep(db, settings, NOW) == 0
    assert (settings.quarantine_dir / f"job-{job_id}.parquet").exists()
    assert _deleted(db) == []


def test_sweep_when_another_job_shares_a_prefix_then_its_files_stay(
    db: Database, settings: Settings
):
    ids = [_job(db, settings, REJECTED if i == 0 else AWAITING, 31) for i in range(12)]
    assert ids[0] == 1 and ids[-1] == 12
    (settings.quarantine_dir / "job-12-a1.parquet").write_bytes(b"job 12's run")
    assert sweep(db, settings, NOW) == 1
    assert not (settings.quarantine_dir / "job-1.parquet").exists()
    assert (settings.quarantine_dir / "job-12.parquet").exists()
    assert (settings.quarantine_dir / "job-12-a1.parquet").exists()
    assert (settings.quarantine_dir / "job-10.parquet").exists()


def test_sweep_when_output_path_points_outside_quarantine_then_only_quarantine_is_touched(
    db: Database, settings: Settings
):
    job_id = _job(db, settings, FAILED, 31)
    outside = settings.releases_dir / f"job-{job_id}.parquet"
    outside.write_bytes(b"released elsewhere")
    with db.session() as session:
        session.get(Job, job_id).output_path = str(outside)  # type: ignore[union-attr]
    assert sweep(db, settings, NOW) == 1
    assert outside.exists() and not (settings.quarantine_dir / f"job-{job_id}.parquet").exists()


def test_sweep_periodically_when_running_then_sweeps_until_stopped(
    db: Database, settings: Settings
):
    job_id = _job(db, settings, FAILED, days_ago=0)
    with db.session() as session:  # due by the real clock
        session.get(Job, job_id).finished_at = utcnow() - dt.timedelta(days=31)  # type: ignore[union-attr]
    stop = threading.Event()
    worker = threading.Thread(target=sweep_periodically, args=(db, settings, stop, 0.01))
    worker.start()
    deadline = time.monotonic() + 10
    while (settings.quarantine_dir / f"job-{job_id}.parquet").exists():
        assert time.monotonic() < deadline, "the periodic sweep never ran"
        time.sleep(0.01)
    stop.set()
    worker.join(timeout=10)
    assert not worker.is_alive() and len(_deleted(db)) == 1
