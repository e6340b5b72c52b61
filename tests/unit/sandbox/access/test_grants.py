"""Grant rows: the submission lock leaves foreign-key checks to the grant free."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from policies.airlock import JobStatus
from sandbox.access import grants
from sandbox.store.db import Database
from sandbox.store.models import Job
from tests.factories import seed_grant, seed_job


@pytest.fixture
def db(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.mark.postgres
def test_grants_when_a_submission_holds_a_grant_then_a_worker_still_updates_its_job_twice(
    db: Database,
) -> None:
    grant_id = seed_grant(db)
    with db.session() as session:
        job_id = seed_job(session, grant_id, "aggregate", "running").id
    with db.session() as held:  # a submission: the grant locked until it commits
        grants.get(held, grant_id, for_update=True)
        with db.session() as worker:  # a worker files its job's output meanwhile
            worker.execute(text("SET LOCAL lock_timeout = '3s'"))  # else: a wait, then 55P03
            job = worker.get(Job, job_id, with_for_update={"of": Job})
            assert job is not None
            job.status = JobStatus.AWAITING_REVIEW
            worker.flush()
            job.output_sha256 = "0" * 64  # a second update of a row this transaction
            worker.flush()  # updated: PostgreSQL checks the job's grant key again
