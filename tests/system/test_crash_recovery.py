"""Kill -9 a real service at each crash point, restart it, and find nothing lost (issue 15).

Each test runs ``sandbox serve`` (and ``sandbox worker``) as real processes on a
free loopback port, with a SQLite database in a fresh data folder (the worker
test also on a fresh PostgreSQL database), and talks to them over HTTP.
``SANDBOX_CRASH_AT`` makes a process SIGKILL itself at a named point
(:mod:`sandbox.store.faults`). Ray takes seconds to start, so the points
are chained: the service starts armed at one point, is driven until it dies
with -9, and the next start (armed at the next point) must first have repaired
the previous crash. A last start, unarmed, lets the queued work complete, then
the database and the API must show: no job stuck, one charge per job (none
twice, none refunded), no release without an approving review, every released
file downloadable with its digest, and an audit chain that verifies. The chain
ends with a SIGTERM while jobs run (exit 0, the running jobs handed back).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from policies.budget import epsilon_units
from sandbox.access import ledger
from sandbox.store.models import AuditEntry, Grant, Job, LedgerEntry, Release, Review
from tests.factories import PUBLIC_KEYS, TAGS, aggregate_spec, auth, residents

pytestmark = [pytest.mark.slow, pytest.mark.ray]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-recovery-test-secret-0123456789abcdefghij"
#: Statuses a job may rest in once the service has done all it can.
SETTLED = {"awaiting_review", "released", "rejected", "failed", "cancelled"}
KILLED = -signal.SIGKILL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    """One started ``sandbox`` process, its own process group, its combined output."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_killed(self, timeout: float = 90.0) -> None:
        """Wait for the process to kill itself at its crash point (-9)."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} did not reach its crash point:\n{self.output()[-3000:]}")
        assert code == KILLED, f"{self.name} exited {code}:\n{self.output()[-3000:]}"
        kill_group(self.popen.pid)  # Ray's daemons die with it; anything else goes too

    def terminate(self, timeout: float = 90.0) -> int:
        """SIGTERM; the exit code."""
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        finally:
            kill_group(self.popen.pid)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Deployment:
    """A data folder, a database and a port, and the processes started on them."""

    folder: Path
    port: int
    db_url: str
    started: list[Proc] = field(default_factory=list)
    _engine: Engine | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, crash_at: str | None = None, **settings: str | int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
        env.update(
            PYTHONPATH=str(ROOT),
            SANDBOX_ENVIRONMENT="development",
            SANDBOX_DATA_DIR=str(self.folder / "data"),
            SANDBOX_DATABASE_URL=self.db_url,
            SANDBOX_SECRET_KEY=SECRET,
            SANDBOX_HOST="127.0.0.1",
            SANDBOX_PORT=str(self.port),
            SANDBOX_LEASE_S="2",
            SANDBOX_POLL_S="0.2",
            SANDBOX_WORKERS="1",
            SANDBOX_UNTIMED_WORKERS="0",
            SANDBOX_RAY_NUM_CPUS="1",
            SANDBOX_MAX_ATTEMPTS="10",
            SANDBOX_JOB_TIMEOUT_S="120",
        )
        env.update({f"SANDBOX_{k.upper()}": str(v) for k, v in settings.items()})
        if crash_at is not None:
            env["SANDBOX_CRASH_AT"] = crash_at
        return env

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a short ``sandbox`` command to its end."""
        return subprocess.run(
            [sys.executable, "-m", "sandbox.cli.main", *args],
            env=self.env(),
            cwd=self.folder,  # no .env of the repository
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def spawn(self, command: str, crash_at: str | None = None, **settings: str | int) -> Proc:
        """Start ``sandbox serve`` or ``sandbox worker`` in its own process group."""
        n = len(self.started) + 1
        log = self.folder / f"{n:02d}-{command}-{crash_at or 'unarmed'}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "sandbox.cli.main", command],
                env=self.env(crash_at, **settings),
                cwd=self.folder,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(f"{command} #{n} ({crash_at or 'unarmed'})", popen, log)
        self.started.append(proc)
        return proc

    def serve(self, crash_at: str | None = None, **settings: str | int) -> Proc:
        return self.spawn("serve", crash_at, **settings)

    def ready(self, proc: Proc, timeout: float = 120.0) -> bool:
        """Wait until the API answers (True) or the process ended (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                return False
            try:
                httpx.get(f"{self.url}/v1/status", timeout=2)
                return True
            except httpx.HTTPError:
                time.sleep(0.1)
        pytest.fail(f"{proc.name} did not answer in {timeout} s:\n{proc.output()[-3000:]}")

    def up(self, crash_at: str | None = None, **settings: str | int) -> Proc:
        """Start the API and wait until it answers."""
        proc = self.serve(crash_at, **settings)
        assert self.ready(proc), f"{proc.name} ended early:\n{proc.output()[-3000:]}"
        return proc

    def close(self) -> None:
        for proc in self.started:
            if proc.popen.poll() is None:
                kill_group(proc.popen.pid)
                proc.popen.wait(30)
            kill_group(proc.popen.pid)
        if self._engine is not None:
            self._engine.dispose()

    def session(self) -> Session:
        """A session on the deployment's database, to look at what the service left."""
        if self._engine is None:
            self._engine = create_engine(self.db_url)
        return Session(self._engine)


@pytest.fixture
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """A fresh deployment (SQLite, or PostgreSQL when parametrized so); every process
    started on it is killed at the end."""
    folder = tmp_path / "deploy"
    folder.mkdir()
    if getattr(request, "param", "sqlite") == "postgres":
        db_url = str(request.getfixturevalue("postgres_url"))
    else:
        db_url = f"sqlite:///{folder / 'data' / 'sandbox.db'}"
    deployed = Deployment(folder, free_port(), db_url)
    try:
        yield deployed
    finally:
        deployed.close()


# --- the world, over HTTP ---------------------------------------------------------------


@dataclass
class World:
    """The bureau's steward, the firm's operator and a grant, as an HTTP client sees them."""

    http: httpx.Client
    steward: str
    operator: str
    grant_id: int
    submitted: int = 0

    def submit(self, epsilon: float, *, new: bool = True) -> int:
        """Submit an aggregate at ``epsilon`` (distinct: the answer cache cannot serve it,
        unless ``new`` is False: a retry); its job id."""
        response = self.http.post(
            "/v1/jobs",
            headers=auth(self.operator),
            json={
                "grant_id": self.grant_id,
                "spec": aggregate_spec(epsilon=epsilon),
                "purpose": "crash test",
            },
        )
        assert response.status_code == 202, response.text
        self.submitted += new
        return int(response.json()["id"])

    def job(self, job_id: int) -> dict[str, Any]:
        response = self.http.get(f"/v1/jobs/{job_id}", headers=auth(self.steward))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def approve(self, job_id: int) -> httpx.Response:
        return self.http.post(
            f"/v1/jobs/{job_id}/review",
            headers=auth(self.steward),
            json={"decision": "approve", "reason": "aggregates only; checks pass"},
        )

    def download(self, job_id: int) -> httpx.Response:
        return self.http.get(f"/v1/jobs/{job_id}/output", headers=auth(self.operator))

    def wait(self, job_ids: list[int], statuses: set[str], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for job_id in job_ids:
            while (status := self.job(job_id)["status"]) not in statuses:
                assert time.monotonic() < deadline, f"job {job_id} stuck in {status}"
                time.sleep(0.2)


def build_world(deployed: Deployment, http: httpx.Client) -> World:
    """Bootstrap the admin with the CLI, then organisations, users, a dataset and a grant."""
    boot = deployed.cli("admin", "bootstrap")
    assert boot.returncode == 0, boot.stderr
    admin = boot.stdout.strip().splitlines()[-1]

    def post(path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        response = http.post(path, headers=auth(token), json=body)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    bureau = post("/v1/orgs", admin, {"name": "bureau", "kind": "bureau"})
    firm = post("/v1/orgs", admin, {"name": "firm", "kind": "operator"})
    steward = post(
        "/v1/users", admin, {"name": "steward", "role": "steward", "org_id": bureau["id"]}
    )
    operator = post("/v1/users", admin, {"name": "op", "role": "operator", "org_id": firm["id"]})
    buffer = io.BytesIO()
    residents().write_parquet(buffer)
    metadata = {
        "name": "residents",
        "source": "crash test",
        "open_attribute": "unconditional",
        "grade": "general",
        "tags": TAGS,
        "privacy_unit": "resident_id",
        "public_keys": PUBLIC_KEYS,
    }
    response = http.post(
        "/v1/datasets",
        headers=auth(steward["token"]),
        files={"file": ("residents.parquet", buffer.getvalue())},
        data={"metadata": json.dumps(metadata)},
    )
    assert response.status_code == 201, response.text
    grant = post(
        "/v1/grants",
        steward["token"],
        {
            "org_id": firm["id"],
            "datasets": ["residents"],
            "purpose": "statistics for a report",
            "kinds": ["aggregate"],
            "epsilon": 10.0,
            "commitment_required": True,
            "expires_at": "2099-01-01T00:00:00+00:00",
        },
    )
    return World(http, steward["token"], operator["token"], int(grant["id"]))


def crashing(call: Any, *args: Any) -> None:
    """Make a request the service dies in: no answer, or (a download) maybe a whole one."""
    try:
        call(*args)
    except httpx.HTTPError:
        pass


# --- what must hold after every recovery ----------------------------------------------------


def quarantined(deployed: Deployment, job_id: int) -> list[str]:
    folder = deployed.folder / "data" / "quarantine"
    return sorted(p.name for p in folder.glob(f"job-{job_id}-*"))


def audit_actions(deployed: Deployment, action: str, job_id: int) -> int:
    with deployed.session() as session:
        return int(
            session.scalar(
                select(func.count(AuditEntry.seq)).where(
                    AuditEntry.action == action, AuditEntry.subject == f"job:{job_id}"
                )
            )
            or 0
        )


def assert_invariants(deployed: Deployment, world: World) -> None:
    """No job stuck, one charge per job, no release without approval, files and chain hold."""
    with deployed.session() as session:
        jobs = session.scalars(select(Job).order_by(Job.id)).all()
        assert len(jobs) == world.submitted
        assert {j.status for j in jobs} <= SETTLED
        for job in jobs:
            assert job.lease_owner is None and job.lease_expires_at is None, job.id
            charges = session.scalars(select(LedgerEntry).where(LedgerEntry.job_id == job.id)).all()
            assert len(charges) == 1, f"job {job.id} charged {len(charges)} times"
            assert charges[0].epsilon == pytest.approx(job.parsed_spec.epsilon), job.id
        loose = session.scalar(
            select(func.count(LedgerEntry.id)).where(LedgerEntry.job_id.is_(None))
        )
        assert loose == 0  # no charge without its job, no refund entry
        grant = session.get(Grant, world.grant_id)
        assert grant is not None
        (dataset,) = grant.datasets
        composed = ledger.spent(session, grant, dataset.id).epsilon
        assert grant.epsilon_spent == epsilon_units(composed)
        assert composed == pytest.approx(sum(j.parsed_spec.epsilon for j in jobs))

        releases = session.scalars(select(Release)).all()
        released = {j.id for j in jobs if j.status == "released"}
        assert {r.job_id for r in releases} == released
        for release in releases:
            approvals = session.scalars(select(Review).where(Review.job_id == release.job_id)).all()
            assert [r.decision for r in approvals] == ["approve"], release.job_id
        published = sorted(p.name for p in (deployed.folder / "data" / "releases").iterdir())
        assert published == sorted(f"job-{j}.parquet" for j in released)
        digests = {j.id: j.output_sha256 for j in jobs if j.id in released}
    for job_id, digest in digests.items():  # the file the run wrote, as reviewed
        response = world.download(job_id)
        assert response.status_code == 200, response.text
        assert response.headers["X-Content-SHA256"] == digest
        assert hashlib.sha256(response.content).hexdigest() == digest
    verified = deployed.cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_kill_9_at_each_point_then_restart_loses_nothing(deployment: Deployment):
    d = deployment
    with httpx.Client(base_url=d.url, timeout=60) as http:
        # 1. after_submit, API only (no Ray): the submission committed, the answer is lost
        proc = d.up("after_submit", workers=0)
        world = build_world(d, http)
        crashing(world.submit, 0.3)
        proc.wait_killed()
        world.submitted += 1
        first = 1
        with d.session() as session:
            assert session.scalars(select(Job.status)).all() == ["queued"]

        # its restart serves the job; more work is queued behind it (no worker runs yet)
        proc = d.up(workers=0)
        assert world.job(first)["status"] == "queued"
        # the operator, who got no answer, submits again: the same job, no second charge
        assert world.submit(0.3, new=False) == first
        queued = [world.submit(0.2 + i / 100) for i in range(4)]
        assert proc.terminate() == 0

        # 2. after_claim: the first job is claimed, the worker dies holding its lease
        d.serve("after_claim").wait_killed()
        with d.session() as session:
            job = session.get(Job, first)
            assert job is not None and job.status == "running" and job.attempt == 1
            assert job.lease_owner is not None

        # 3. during a Ray run: the start requeues the dead worker's job (no waiting for
        # its lease), the second attempt is cut short
        d.serve("during_run").wait_killed()
        assert audit_actions(d, "job.requeue", first) == 1
        with d.session() as session:
            job = session.get(Job, first)
            assert job is not None and job.status == "running" and job.attempt == 2

        # 4. after the quarantine write: the output is on disk, unfiled
        d.serve("after_output").wait_killed()
        assert quarantined(d, first) == ["job-1-a3.parquet"]
        with d.session() as session:
            job = session.get(Job, first)
            assert job is not None and job.status == "running" and job.attempt == 3

        # 5. during the checks: attempt 3's orphan output is removed on the restart
        d.serve("during_checks").wait_killed()
        assert quarantined(d, first) == ["job-1-a4.parquet"]
        assert audit_actions(d, "job.requeue", first) == 3

        # 6. approval killed before its commit, with jobs running at the crash
        proc = d.up("before_approve_commit", workers=2)
        world.wait([first, *queued], {"awaiting_review"})
        assert quarantined(d, first) == ["job-1-a5.parquet"]
        assert world.job(first)["report"]["rows"] > 0
        queued += [world.submit(0.25), world.submit(0.26)]
        world.wait(queued[-1:], {"running", "awaiting_review"})
        crashing(world.approve, first)
        proc.wait_killed()

        # 7. approval killed after its commit (API only: the last jobs wait in the queue)
        proc = d.up("after_approve_commit", workers=0)
        assert world.job(first)["status"] == "awaiting_review"
        with d.session() as session:
            assert session.scalars(select(Review).where(Review.job_id == first)).all() == []
            assert session.scalars(select(Release)).all() == []
        assert list((d.folder / "data" / "releases").iterdir()) == []
        crashing(world.approve, first)
        proc.wait_killed()
        with d.session() as session:
            job = session.get(Job, first)
            assert job is not None and job.status == "released"
            assert session.scalars(select(Release.job_id)).all() == [first]

        # 8. during a download: the restart published the committed release's file
        proc = d.up("during_download", workers=0)
        assert world.job(first)["status"] == "released"
        assert (d.folder / "data" / "releases" / "job-1.parquet").exists()
        again = world.approve(first)  # the lost answer's retry: refused, nothing recorded
        assert 400 <= again.status_code < 500, again.text
        second = queued[0]
        approved = world.approve(second)
        assert approved.status_code == 200, approved.text
        crashing(world.download, first)
        proc.wait_killed()

        # 9. SIGTERM with jobs running: exit 0, running jobs handed back to the queue
        proc = d.up(workers=2, drain_grace_s=0)
        response = world.download(first)
        assert response.status_code == 200, response.text
        assert hashlib.sha256(response.content).hexdigest() == response.headers["X-Content-SHA256"]
        queued += [world.submit(0.27 + i / 100) for i in range(3)]
        world.wait(queued[-3:-2], {"running", "awaiting_review"})
        assert proc.terminate() == 0, proc.output()[-3000:]
        assert "Traceback" not in proc.output(), proc.output()[-3000:]
        with d.session() as session:
            jobs = session.scalars(select(Job).where(Job.id.in_(queued[-5:]))).all()
            assert {j.status for j in jobs} <= {"queued", "awaiting_review"}
            assert any(j.status == "queued" for j in jobs)
            for job in jobs:
                assert job.lease_owner is None
                if job.status == "queued" and job.attempt > 0:  # handed back, audited
                    assert audit_actions(d, "job.handback", job.id) >= 1

        # the last start: queued work completes
        proc = d.up(workers=2)
        world.wait([first, *queued], SETTLED)
        assert world.job(first)["status"] == "released"
        assert world.job(second)["status"] == "released"
        for job_id in queued[1:]:
            assert world.job(job_id)["status"] == "awaiting_review"
        approved = world.approve(queued[1])
        assert approved.status_code == 200, approved.text
        assert_invariants(d, world)
        assert proc.terminate() == 0
    assert "Traceback" not in proc.output()


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "deployment", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_sandbox_worker_processes_run_what_the_api_queued(deployment: Deployment):
    d = deployment
    with httpx.Client(base_url=d.url, timeout=60) as http:
        api = d.up(workers=0)  # API only: no Ray, no worker
        world = build_world(d, http)
        jobs = [world.submit(0.2 + i / 100) for i in range(3)]
        time.sleep(1.0)
        assert {world.job(j)["status"] for j in jobs} == {"queued"}

        # a worker process dies in a run; the next one takes its job back and runs the rest
        d.spawn("worker", "during_run").wait_killed()
        with d.session() as session:
            assert session.scalars(select(Job.status).order_by(Job.id)).all() == [
                "running",
                "queued",
                "queued",
            ]
        worker = d.spawn("worker", workers=2)
        world.wait(jobs, {"awaiting_review"}, timeout=180)
        assert audit_actions(d, "job.requeue", jobs[0]) == 1
        approved = world.approve(jobs[0])
        assert approved.status_code == 200, approved.text
        assert worker.terminate() == 0
        assert "Traceback" not in worker.output(), worker.output()[-3000:]
        assert_invariants(d, world)
        assert api.terminate() == 0
    assert "Traceback" not in api.output()
