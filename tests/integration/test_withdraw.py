"""Withdrawing a dataset through the API (art. 63), on SQLite and PostgreSQL, without Ray.

Its grants end, its queued jobs fail, outputs awaiting review can no longer be
approved, its files go, operators stop seeing it, and released products stay (their
grantee's download follows the terminated grant, as for any termination: art. 76).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import select

from jobs.runner import Outcome, Task, execute
from sandbox.audit.verify import verify
from sandbox.jobs import answer_cache
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.store.models import AuditEntry, Dataset, DatasetHierarchy, Job
from sandbox.web.app import create_app
from tests.factories import CITIES, World, build_world, wait_status

WITHDRAW = "/v1/datasets/residents/withdraw"
HIERARCHY = "/v1/datasets/residents/hierarchies/city"
REASON = {"reason": "the source licence ended"}


class InProcessRunner:
    """The real executor, without Ray."""

    def run(self, task: Task) -> Outcome:
        return execute(task)


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    sandbox = Sandbox(settings, runner=InProcessRunner())
    with TestClient(create_app(sandbox)) as http:
        yield build_world(http, sandbox)


def _post(world: World, path: str, who: str, body: dict[str, Any]) -> Any:
    return world.http.post(path, headers=world.as_(who), json=body)


def _awaiting(world: World, **spec: Any) -> int:
    job_id = int(world.submit(epsilon=0.3, **spec).json()["id"])
    wait_status(world, job_id, {"awaiting_review"})
    return job_id


@pytest.mark.parametrize(
    ("who", "body", "status", "code"),
    [
        ("operator", REASON, 403, "policy_violation"),  # operators withdraw nothing
        ("auditor", REASON, 403, "policy_violation"),  # nor do auditors of the bureau
        ("steward", {"reason": "撤"}, 422, None),  # a reason of 2 characters is required
        ("steward", {}, 422, None),  # ...always
    ],
)
def test_withdraw_when_not_allowed_or_no_reason_then_4xx_and_nothing_changes(
    world: World, who: str, body: dict[str, Any], status: int, code: str | None
):
    response = _post(world, WITHDRAW, who, body)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"] == code
    listed = world.http.get("/v1/datasets", headers=world.as_("operator")).json()
    assert [d["name"] for d in listed] == ["residents"]
    assert world.grant()["state"] == "active"


def test_withdraw_when_steward_of_another_bureau_or_unknown_dataset_then_403_or_404(
    world: World,
):
    org = _post(world, "/v1/orgs", "admin", {"name": "rival bureau", "kind": "bureau"}).json()
    rival = _post(
        world, "/v1/users", "admin", {"name": "rival", "role": "steward", "org_id": org["id"]}
    ).json()["token"]
    response = world.http.post(WITHDRAW, headers={"Authorization": f"Bearer {rival}"}, json=REASON)
    assert response.status_code == 403 and response.json()["error"] == "policy_violation"
    missing = _post(world, "/v1/datasets/nothing_here/withdraw", "steward", REASON)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_withdraw_when_steward_withdraws_then_grants_end_jobs_fail_files_go_releases_stay(
    world: World,
):
    sandbox = world.sandbox
    released = _awaiting(world, group_by=["city"])
    approve = {"decision": "approve", "reason": "aggregates, checks pass"}
    assert _post(world, f"/v1/jobs/{released}/review", "steward", approve).status_code == 200
    awaiting = _awaiting(world, group_by=[])
    with sandbox.db.session() as session:
        folder = Path(session.scalars(select(Dataset.path)).one())
    assert folder.is_dir()
    hierarchy = {"csv": "".join(f"{city};*\n" for city in CITIES)}
    stored = world.http.put(HIERARCHY, headers=world.as_("steward"), json=hierarchy)
    assert stored.status_code == 200, stored.text

    response = _post(world, WITHDRAW, "steward", REASON)
    assert response.status_code == 200, response.text
    tombstone = response.json()
    assert tombstone["withdrawn_reason"] == REASON["reason"]
    assert dt.datetime.fromisoformat(tombstone["withdrawn_at"])
    assert not folder.exists()  # the files are gone
    with sandbox.db.session() as session:  # and the hierarchies: their lines are the values
        assert session.scalars(select(DatasetHierarchy)).all() == []

    grant = world.grant()
    assert grant["state"] == "terminated" and REASON["reason"] in grant["state_reason"]
    refused = _post(world, f"/v1/jobs/{awaiting}/review", "steward", approve)
    assert refused.status_code == 409 and "withdrawn" in refused.json()["message"]
    rejected = _post(
        world,
        f"/v1/jobs/{awaiting}/review",
        "steward",
        {"decision": "reject", "reason": "its dataset was withdrawn"},
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    # the released product stays: its file, its signed manifest, its bureau's download; the
    # grantee's download follows its (terminated) grant, as for any termination (art. 76)
    output = world.http.get(f"/v1/jobs/{released}/output", headers=world.as_("steward"))
    assert output.status_code == 200 and output.content
    manifest = world.http.get(f"/v1/jobs/{released}/manifest", headers=world.as_("operator"))
    assert manifest.status_code == 200, manifest.text
    grantee = world.http.get(f"/v1/jobs/{released}/output", headers=world.as_("operator"))
    assert grantee.status_code == 403 and "art. 76" in grantee.json()["message"]

    # operators no longer see it; its bureau and auditors see the tombstone
    assert world.http.get("/v1/datasets", headers=world.as_("operator")).json() == []
    hidden = world.http.get("/v1/datasets/residents", headers=world.as_("operator"))
    assert hidden.status_code == 404
    for who in ("steward", "auditor"):
        listed = world.http.get("/v1/datasets", headers=world.as_(who)).json()
        assert [(d["name"], d["withdrawn_reason"]) for d in listed] == [
            ("residents", REASON["reason"])
        ]

    # no new grant on it, no second withdrawal
    new_grant = {
        "org_id": world.other_firm_id,
        "datasets": ["residents"],
        "purpose": "statistics for a report",
        "kinds": ["aggregate"],
        "epsilon": 1.0,
        "commitment_required": True,
        "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
    }
    granted = _post(world, "/v1/grants", "steward", new_grant)
    assert granted.status_code == 409 and "withdrawn" in granted.json()["message"]
    again = _post(world, WITHDRAW, "steward", REASON)
    assert again.status_code == 409 and again.json()["error"] == "conflict"

    with sandbox.db.session() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "dataset.withdraw")
        ).one()
        assert entry.subject == "dataset:residents" and entry.actor == "user:steward"
        assert entry.details == {
            "reason": REASON["reason"],
            "grants_terminated": [world.grant_id],
            "jobs_failed": [],
            "hierarchies_deleted": 1,
        }
        assert verify(session, sandbox.settings.secret()).ok


@pytest.fixture
def idle_world(settings: Settings) -> Iterator[World]:
    """An API-only service: submitted jobs stay queued (no worker claims them)."""
    idle = settings.model_copy(update={"workers": 0, "untimed_workers": 0})
    sandbox = Sandbox(idle, runner=InProcessRunner())
    with TestClient(create_app(sandbox)) as http:
        yield build_world(http, sandbox)


def test_withdraw_when_jobs_are_queued_on_it_then_they_fail_with_a_reason(idle_world: World):
    world = idle_world
    queued = world.submit(epsilon=0.3)
    assert queued.status_code == 202 and queued.json()["status"] == "queued", queued.text
    job_id = queued.json()["id"]
    assert _post(world, WITHDRAW, "steward", REASON).status_code == 200
    job = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("operator")).json()
    assert job["status"] == "failed" and "withdrawn" in job["error"]
    with world.sandbox.db.session() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "dataset.withdraw")
        ).one()
        assert entry.details["jobs_failed"] == [job_id]


def _wait_for_a_lock_waiter(url: str, timeout_s: float = 20.0) -> None:
    """Until another session of this PostgreSQL database waits for a lock."""
    engine = sa.create_engine(url)
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                if connection.execute(waiting).scalar_one() > 0:
                    return
            time.sleep(0.05)
        raise AssertionError("no session waited for a lock")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_withdraw_when_a_worker_claims_a_job_meanwhile_then_no_deadlock(
    idle_world: World, monkeypatch: pytest.MonkeyPatch
):
    world = idle_world
    sandbox = world.sandbox
    if sandbox.db.is_sqlite:
        pytest.skip("SQLite has one writer at a time (BEGIN IMMEDIATE): nothing to interleave")
    job_id = int(world.submit(epsilon=0.3).json()["id"])
    with sandbox.db.session() as session:
        kind = session.scalars(select(Job.kind).where(Job.id == job_id)).one()
    executor = sandbox.jobs.executor
    real_start = executor.start_job
    claimed = threading.Event()
    errors: list[BaseException] = []

    def start_job(session: Any, job: Any, lease: Any) -> Any:
        # the job row is locked (FOR UPDATE SKIP LOCKED); the withdrawal now waits for it,
        # and this claim appends its audit entry only then
        claimed.set()
        _wait_for_a_lock_waiter(sandbox.db.url)
        return real_start(session, job, lease)

    def claim() -> None:
        try:
            started = executor.claim([kind])
            assert isinstance(started, tuple)
            executor.run(*started)  # its dataset's files are gone: it cannot release
        except BaseException as err:  # reported below
            errors.append(err)
            claimed.set()

    monkeypatch.setattr(executor, "start_job", start_job)
    worker = threading.Thread(target=claim)
    worker.start()
    assert claimed.wait(20)
    response = _post(world, WITHDRAW, "steward", REASON)
    worker.join(60)
    assert not worker.is_alive()
    assert response.status_code == 200, response.text
    assert errors == []
    job = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("operator")).json()
    assert job["status"] in ("failed", "awaiting_review")
    assert world.grant()["state"] == "terminated"


@pytest.mark.postgres
def test_withdraw_when_a_job_is_submitted_on_its_second_grant_meanwhile_then_no_deadlock(
    idle_world: World, monkeypatch: pytest.MonkeyPatch
):
    world = idle_world
    if world.sandbox.db.is_sqlite:
        pytest.skip("SQLite has one writer at a time (BEGIN IMMEDIATE): nothing to interleave")
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    second = _post(
        world,
        "/v1/grants",
        "steward",
        {
            "org_id": world.firm_id,
            "datasets": ["residents"],
            "purpose": "another report",
            "kinds": ["aggregate"],
            "epsilon": 1.0,
            "commitment_required": True,
            "expires_at": expires,
        },
    ).json()["id"]
    assert second > world.grant_id  # the withdrawal reaches it after terminating the first
    # the firm's budget row for the dataset exists from then on: the next submission's
    # insert of it does nothing, so it holds no lock on the dataset row
    assert world.submit(epsilon=0.3).status_code == 202
    real_lookup = answer_cache.lookup
    locked = threading.Event()
    answers: list[Any] = []

    def lookup(session: Any, grant: Any, spec_hash: str) -> Any:
        # the submission holds its grant's row; the withdrawal now waits for it, and this
        # submission appends its audit entry only then
        locked.set()
        _wait_for_a_lock_waiter(world.sandbox.db.url)
        return real_lookup(session, grant, spec_hash)

    def submit() -> None:
        try:
            answers.append(world.submit(grant_id=second, epsilon=0.3))
        except BaseException as err:  # reported below
            answers.append(err)
            locked.set()

    monkeypatch.setattr(answer_cache, "lookup", lookup)
    operator = threading.Thread(target=submit)
    operator.start()
    assert locked.wait(20)
    response = _post(world, WITHDRAW, "steward", REASON)
    operator.join(60)
    assert not operator.is_alive()
    assert response.status_code == 200, response.text
    [submitted] = answers
    assert not isinstance(submitted, BaseException), submitted
    assert submitted.status_code == 202, submitted.text
    job = world.http.get(f"/v1/jobs/{submitted.json()['id']}", headers=world.as_("operator"))
    assert job.json()["status"] == "failed"  # queued before the withdrawal committed
