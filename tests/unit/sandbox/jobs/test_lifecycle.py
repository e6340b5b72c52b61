"""transition(): the state machine's rule, the run's timestamps and the audit entry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from policies.airlock import JobStatus
from policies.errors import Conflict
from policies.grants import GrantState
from policies.roles import OrgKind, Role
from sandbox.jobs.lifecycle import transition
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Grant, Job, Organisation, User


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
                expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
                created_by=user.id,
            )
        )
    yield database
    database.dispose()


def _new_job() -> Job:
    return Job(grant_id=1, org_id=1, submitted_by=1, kind="k", spec={}, epsilon=0, delta=0)


def _audit(db: Database) -> list[tuple[str, str, dict[str, object]]]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        return [(r.action, r.subject, r.details) for r in rows]


def test_transition_when_a_job_lives_then_timestamps_and_audit_follow(db: Database) -> None:
    with db.session() as session:
        job = transition(
            db, session, _new_job(), JobStatus.QUEUED, actor="user:a", action="job.submit", grant=1
        )
        assert job.id is not None and job.status is JobStatus.QUEUED
        assert job.started_at is None and job.finished_at is None
        transition(db, session, job, JobStatus.RUNNING, actor="system", action="job.run")
        assert job.started_at is not None and job.finished_at is None
        transition(
            db, session, job, JobStatus.FAILED, actor="system", action="job.fail", error="why"
        )
        assert job.finished_at is not None and job.error == "why"
        job_id = job.id
    with db.session() as session:
        stored = session.get(Job, job_id)
        assert stored is not None and stored.status is JobStatus.FAILED
    assert _audit(db) == [
        ("job.submit", f"job:{job_id}", {"grant": 1}),
        ("job.run", f"job:{job_id}", {}),
        ("job.fail", f"job:{job_id}", {"error": "why"}),
    ]


def test_transition_when_the_rule_forbids_then_conflict_and_nothing_written(db: Database) -> None:
    with db.session() as session:
        job = transition(db, session, _new_job(), JobStatus.QUEUED, actor="system")
        with pytest.raises(Conflict, match="a queued job cannot become released"):
            transition(db, session, job, JobStatus.RELEASED, actor="system", action="x")
        assert job.status is JobStatus.QUEUED
    with pytest.raises(Conflict, match="a new job cannot be running"):
        with db.session() as session:
            transition(db, session, _new_job(), JobStatus.RUNNING, actor="system")
    assert _audit(db) == []


def test_transition_when_created_released_then_started_and_finished_now(db: Database) -> None:
    with db.session() as session:
        job = transition(db, session, _new_job(), JobStatus.RELEASED, actor="system")
        assert job.started_at is not None and job.started_at == job.finished_at


def test_status_column_when_stored_then_the_same_string_as_before(db: Database) -> None:
    from sqlalchemy import text

    with db.session() as session:
        transition(db, session, _new_job(), JobStatus.QUEUED, actor="system")
    with db.session() as session:
        raw = session.execute(text("SELECT status FROM jobs")).scalar_one()
        state = session.execute(text("SELECT state FROM grants")).scalar_one()
    assert (raw, state) == ("queued", GrantState.ACTIVE.value)
