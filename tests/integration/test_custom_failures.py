"""A custom run that cannot finish goes to review, failing; the operator never sees a failure.

Operator code can make its run fail on purpose (run past the service's time
limit, crash the wrapper with a hostile output) when the data holds some value:
a ``failed`` status the operator read would carry that bit out unreviewed. The
runner here stands in for Ray: it raises what :class:`jobs.runner.RayRunner`
raises when a task runs out of time or its worker dies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from jobs.errors import JobFailed
from jobs.runner import Outcome, Task, execute, sha256_file
from sandbox.audit import chain as audit
from sandbox.jobs.service import JobService
from sandbox.store.db import Database
from sandbox.store.models import Job
from sandbox.web.api.schemas import JobPublic
from tests.factories import aggregate_spec
from tests.integration.test_store import _world, db  # noqa: F401 - the store fixture

CUSTOM = {"kind": "custom", "datasets": ["residents"], "source": "print(1)"}


class FailingRunner:
    """Runs aggregates; a custom task fails the way ``error`` says."""

    def __init__(self, error: BaseException | None = None, problems: list[str] | None = None):
        self.error = error
        self.problems = problems

    def run(self, task: Task) -> Outcome:
        if task.spec["kind"] != "custom":
            if self.error is not None:
                raise self.error
            return execute(task)
        if self.error is not None:
            raise self.error
        out = Path(task.output_path).with_suffix(".zip")
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w") as zf:
            zf.writestr("file-1.txt", "ok")
        report = {"kind": "custom", "succeeded": True, "problems": self.problems or []}
        return Outcome(str(out), sha256_file(out), rows=1, epsilon=0.0, delta=0.0, report=report)


def _settled(db: Database, job_id: int) -> Job:  # noqa: F811 - db is the fixture's value
    deadline = time.monotonic() + 60
    while True:
        with db.session() as s:
            job = s.get(Job, job_id)
            assert job is not None
            if job.status not in ("queued", "running"):
                s.expunge(job)
                return job
        assert time.monotonic() < deadline, "the job did not settle"
        time.sleep(0.05)


@pytest.mark.parametrize(
    "error",
    [
        # RayRunner's time limit for the trusted wrapper (sparse files once made it copy for long)
        JobFailed("the job ran longer than 360 s and was stopped"),
        MemoryError("the wrapper's worker died"),  # a crash, not a SandboxError
    ],
)
def test_custom_when_the_run_cannot_finish_then_review_fails_it_and_the_operator_sees_no_failure(
    db: Database,  # noqa: F811
    tmp_path: Path,
    error: BaseException,
):
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0, kinds=("aggregate", "custom"))
    service = JobService(db, settings, FailingRunner(error), workers=1, untimed_workers=1)
    try:
        job = _settled(db, service.submit(who, grant_id, CUSTOM).id)
    finally:
        service.shutdown(wait=True)
    assert job.status == "awaiting_review"
    operator = JobPublic.of(job, with_report=False)
    assert (operator.status, operator.error, operator.report) == ("awaiting_review", "", None)
    checks = {c["name"]: c for c in job.report["checks"]}
    assert checks["run"]["verdict"] == "fail"
    assert "did not finish" in checks["run"]["reason"]
    assert job.report["succeeded"] is False
    with zipfile.ZipFile(job.output_path) as zf:
        assert zf.namelist() == []  # nothing to release


def test_custom_when_files_were_refused_then_a_failing_run_check_tells_the_reviewer(
    db: Database,  # noqa: F811
    tmp_path: Path,
):
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0, kinds=("custom",))
    runner = FailingRunner(problems=["2 files were refused at the jail's door"])
    service = JobService(db, settings, runner, workers=1, untimed_workers=1)
    try:
        job = _settled(db, service.submit(who, grant_id, CUSTOM).id)
    finally:
        service.shutdown(wait=True)
    checks = {c["name"]: c for c in job.report["checks"]}
    assert checks["run"] == {
        "name": "run",
        "verdict": "fail",
        "reason": "2 files were refused at the jail's door",
    }


def test_aggregate_when_its_run_fails_then_the_operator_sees_the_failure(
    db: Database,  # noqa: F811
    tmp_path: Path,
):
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0)
    service = JobService(db, settings, FailingRunner(JobFailed("out of time")), workers=1)
    try:
        job = _settled(db, service.submit(who, grant_id, aggregate_spec(epsilon=0.1)).id)
    finally:
        service.shutdown(wait=True)
    assert JobPublic.of(job, with_report=False).status == "failed"


def test_recover_when_killed_runs_left_private_folders_then_they_are_removed(
    db: Database,  # noqa: F811
    tmp_path: Path,
):
    settings, _, _ = _world(db, tmp_path, epsilon=1.0, kinds=("custom",))
    gone = subprocess.Popen(["true"])
    gone.wait()
    root = Path(tempfile.gettempdir())
    stale = [root / f"sandbox-custom-{gone.pid}-r1", root / f"sandbox-jail-{gone.pid}-r2"]
    alive = root / f"sandbox-custom-{os.getpid()}-r3"  # a run of this process: kept
    for folder in (*stale, alive):
        (folder / "data").mkdir(parents=True)
    service = JobService(db, settings, FailingRunner(), workers=1, untimed_workers=1)
    try:
        service.recover()
    finally:
        service.shutdown(wait=True)
        kept = alive.exists()
        shutil.rmtree(alive, ignore_errors=True)
    assert [f for f in stale if f.exists()] == [] and kept


def test_recover_when_runs_lost_their_workers_too_often_then_review_fails_custom_not_the_operator(
    db: Database,  # noqa: F811
    tmp_path: Path,
):
    """Jobs left running by a killed worker go back to the queue; those started
    ``max_attempts`` times end instead: a custom run (its code could have killed its
    workers on purpose) in review, failing; a visible kind's run failed. A job left
    queued runs."""
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0, kinds=("aggregate", "custom"))
    left = [("custom", CUSTOM, "running", 3), ("custom", CUSTOM, "queued", 0)]
    left.append(("aggregate", aggregate_spec(epsilon=0.1), "running", 3))
    left.append(("aggregate", aggregate_spec(epsilon=0.2), "running", 1))
    with db.session() as s:  # what a killed process left behind (no lease: an old service's)
        jobs = [
            Job(
                grant_id=grant_id,
                org_id=who.org_id,
                submitted_by=who.user_id,
                kind=kind,
                spec=spec,
                purpose="left behind",
                status=status,
                attempt=attempt,
                epsilon=0,
                delta=0,
            )
            for kind, spec, status, attempt in left
        ]
        s.add_all(jobs)
        s.flush()
        custom, queued, aggregate, again = (j.id for j in jobs)
        for job_id in (custom, aggregate):  # their workers died twice before
            for _ in range(2):
                audit.append(
                    db, s, "system", "job.requeue", f"job:{job_id}", reason="lease expired"
                )
    restarted = JobService(db, settings, FailingRunner(), workers=1, untimed_workers=1)
    try:
        assert restarted.recover() == 3
    finally:
        restarted.shutdown(wait=True)
    with db.session() as s:
        rows = {i: s.get(Job, i) for i in (custom, queued, aggregate, again)}
        views = {i: JobPublic.of(job, with_report=False) for i, job in rows.items()}
        report = rows[custom].report
        attempts = {i: job.attempt for i, job in rows.items()}
    assert views[custom].status == "awaiting_review"  # the code ran: its end is hidden
    assert {c["name"]: c["verdict"] for c in report["checks"]} == {"run": "fail"}
    assert views[aggregate].status == "failed" and "stopped 3 times" in views[aggregate].error
    # requeued, then run again from the start; the queued one ran too
    assert attempts[again] == 2 and views[again].status == "awaiting_review"
    assert attempts[queued] == 1 and views[queued].status == "awaiting_review"
