"""Budget per firm × dataset across all the firm's grants, and steward-started periods.

Runs on SQLite and PostgreSQL; jobs run in-process (no Ray): the engine is the real one.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text

from jobs.runner import Outcome, Task, execute
from policies.errors import BudgetExhausted
from sandbox.access import auth
from sandbox.access.auth import Principal
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.store.models import AuditEntry, Dataset, Job, LedgerEntry
from sandbox.web.app import create_app
from tests.factories import World, aggregate_spec, build_world, wait_status


class InProcessRunner:
    """The real executor, without Ray."""

    def run(self, task: Task) -> Outcome:
        return execute(task)


@pytest.fixture
def pg_world(tmp_path: Path, postgres_url: str) -> Iterator[World]:
    """A world on PostgreSQL only (row locks are what serialize there)."""
    sandbox = Sandbox(
        Settings(data_dir=tmp_path / "data", database_url=postgres_url), runner=InProcessRunner()
    )
    with TestClient(create_app(sandbox)) as http:
        yield build_world(http, sandbox, epsilon=1.0)


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[World]:
    sandbox = Sandbox(
        Settings(data_dir=tmp_path / "data", database_url=db_url), runner=InProcessRunner()
    )
    with TestClient(create_app(sandbox)) as http:
        yield build_world(http, sandbox, epsilon=1.0)


def _grant(
    world: World, epsilon: float, delta: float = 0.0, kinds: tuple[str, ...] = ("aggregate",)
) -> int:
    """Another grant to the same firm on the same dataset."""
    response = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={
            "org_id": world.firm_id,
            "datasets": ["residents"],
            "purpose": "a second study",
            "kinds": list(kinds),
            "epsilon": epsilon,
            "delta": delta,
            "commitment_required": True,
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _spec(i: int, epsilon: float) -> dict[str, Any]:
    """Distinct queries (an identical one would be a cache hit at no cost)."""
    return aggregate_spec(epsilon=epsilon, filters=[{"column": "age", "op": "ge", "value": i}])


def _submit(world: World, grant_id: int, i: int, epsilon: float) -> Any:
    body = {"grant_id": grant_id, "spec": _spec(i, epsilon), "purpose": "budget test"}
    return world.http.post("/v1/jobs", headers=world.as_("operator"), json=body)


#: An extract: it costs no ε or δ (k-anonymity, reviewed), yet goes through the ledger.
_EXTRACT = {
    "kind": "extract",
    "dataset": "residents",
    "columns": ["city", "age", "income", "household_size", "phone"],
    "k": 5,
    "l": 2,
}


def _grant_view(world: World, grant_id: int, who: str = "operator") -> dict[str, Any]:
    response = world.http.get(f"/v1/grants/{grant_id}", headers=world.as_(who))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _operator(world: World) -> Principal:
    return auth.authenticate(world.sandbox.db, world.operator)


def test_ledger_when_a_second_grant_has_the_same_totals_then_it_brings_no_fresh_budget(
    world: World,
):
    assert _submit(world, world.grant_id, 1, 0.6).status_code == 202
    second = _grant(world, epsilon=1.0)
    refused = _submit(world, second, 2, 0.6)
    assert refused.status_code == 409 and "any of its grants" in refused.json()["message"]
    assert _submit(world, second, 3, 0.4).status_code == 202
    assert _submit(world, world.grant_id, 4, 0.1).status_code == 409  # the first is spent too
    with world.sandbox.db.session() as s:
        assert len(s.scalars(select(LedgerEntry)).all()) == 2


def test_ledger_when_a_second_grant_is_larger_then_it_adds_only_the_difference(world: World):
    assert _submit(world, world.grant_id, 1, 1.0).status_code == 202
    larger = _grant(world, epsilon=1.5)
    assert _submit(world, larger, 2, 0.6).status_code == 409
    assert _submit(world, larger, 3, 0.5).status_code == 202
    view = _grant_view(world, larger)
    assert view["epsilon_spent"] == pytest.approx(0.5)  # this grant's own jobs
    assert view["epsilon_left"] == pytest.approx(0.0)
    [budget] = view["budgets"]
    assert budget["dataset"] == "residents" and budget["period"] == 1
    assert budget["firm_epsilon_spent"] == pytest.approx(1.5)  # the firm's, all grants


def test_ledger_when_two_grants_of_one_firm_submit_concurrently_then_never_overspends(
    world: World,
):
    second = _grant(world, epsilon=1.0)
    who = _operator(world)
    barrier = threading.Barrier(20)
    accepted: list[int] = []
    refused: list[BaseException] = []
    lock = threading.Lock()

    def submit(i: int) -> None:
        barrier.wait()
        try:
            job = world.sandbox.jobs.submit(who, (world.grant_id, second)[i % 2], _spec(i, 0.1))
            with lock:
                accepted.append(job.id)
        except BudgetExhausted as err:
            with lock:
                refused.append(err)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(20)]  # 2 × 1.0 < 2.0
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 10 and len(refused) == 10
    with world.sandbox.db.session() as s:
        assert sum(e.epsilon for e in s.scalars(select(LedgerEntry))) == pytest.approx(1.0)
        assert sorted(j.id for j in s.scalars(select(Job))) == sorted(accepted)
    for gid in (world.grant_id, second):
        assert _grant_view(world, gid)["budgets"][0]["firm_epsilon_spent"] == pytest.approx(1.0)


def test_submit_when_identical_query_under_a_second_grant_then_cached_answer_at_no_cost(
    world: World,
):
    first = world.submit(epsilon=0.5).json()
    second = _grant(world, epsilon=1.0)
    again = world.submit(grant_id=second, epsilon=0.5)
    assert again.status_code == 202 and again.json()["id"] == first["id"]
    estimate = world.http.post(
        "/v1/jobs/estimate",
        headers=world.as_("operator"),
        json={"grant_id": second, "spec": aggregate_spec(epsilon=0.5)},
    ).json()
    assert estimate["cached_job_id"] == first["id"]
    assert _grant_view(world, second)["epsilon_spent"] == 0
    with world.sandbox.db.session() as s:
        assert len(s.scalars(select(LedgerEntry)).all()) == 1
        hit = s.scalars(select(AuditEntry).where(AuditEntry.action == "job.cache_hit")).one()
        assert hit.details["grant"] == second


def test_submit_when_identical_queries_race_under_two_grants_then_one_job_is_charged(
    world: World,
):
    second = _grant(world, epsilon=1.0)
    who = _operator(world)
    barrier = threading.Barrier(6)
    ids: list[int] = []
    lock = threading.Lock()

    def submit(i: int) -> None:
        barrier.wait()
        job = world.sandbox.jobs.submit(who, (world.grant_id, second)[i % 2], _spec(7, 0.3))
        with lock:
            ids.append(job.id)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1
    with world.sandbox.db.session() as s:
        assert len(s.scalars(select(LedgerEntry)).all()) == 1


def test_budget_period_when_steward_starts_one_then_earlier_charges_stop_counting_and_audited(
    world: World,
):
    first = _submit(world, world.grant_id, 1, 1.0).json()
    assert _submit(world, world.grant_id, 2, 0.1).status_code == 409
    body = {"org_id": world.firm_id, "dataset": "residents", "reason": "the 2027 budget year"}
    # an operator may not, and a steward must say why
    denied = world.http.post("/v1/budgets/periods", headers=world.as_("operator"), json=body)
    assert denied.status_code == 403
    short = world.http.post(
        "/v1/budgets/periods", headers=world.as_("steward"), json=body | {"reason": "x"}
    )
    assert short.status_code == 422
    unknown = world.http.post(
        "/v1/budgets/periods", headers=world.as_("steward"), json=body | {"dataset": "nope"}
    )
    assert unknown.status_code == 404
    started = world.http.post("/v1/budgets/periods", headers=world.as_("steward"), json=body)
    assert started.status_code == 201, started.text
    assert started.json()["period"] == 2
    [budget] = _grant_view(world, world.grant_id)["budgets"]
    assert (budget["period"], budget["firm_epsilon_spent"], budget["epsilon_left"]) == (2, 0, 1.0)
    assert _submit(world, world.grant_id, 2, 0.4).status_code == 202
    # the identical query still gets its earlier answer: no fresh noise in a new period
    repeat = _submit(world, world.grant_id, 1, 1.0)
    assert repeat.status_code == 202 and repeat.json()["id"] == first["id"]
    with world.sandbox.db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "budget.period")).one()
    assert entry.details["reason"] == "the 2027 budget year"
    assert (entry.details["period"], entry.details["previous_charges"]) == (2, 1)
    assert entry.actor == "user:steward"


def test_budget_when_a_grant_is_shown_then_its_own_and_the_firms_spend_per_dataset(
    world: World,
):
    from sandbox.client import Client

    job = _submit(world, world.grant_id, 1, 0.6).json()
    second = _grant(world, epsilon=2.0)
    assert _submit(world, second, 2, 0.3).status_code == 202

    def relay(request: httpx.Request) -> httpx.Response:
        answer = world.http.request(
            request.method, str(request.url), headers=request.headers, content=request.read()
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    with Client("http://testserver", world.operator, transport=httpx.MockTransport(relay)) as c:
        frame = c.budget().by_dataset().sort("grant_id")
        one = c.budget(second)
    assert frame["dataset"].to_list() == ["residents", "residents"]
    assert frame["epsilon_spent"].to_list() == pytest.approx([0.6, 0.3])
    assert frame["firm_epsilon_spent"].to_list() == pytest.approx([0.9, 0.9])
    assert frame["epsilon_left"].to_list() == pytest.approx([0.1, 1.1])
    assert one["firm_epsilon_spent"] == pytest.approx(0.9)
    assert one["epsilon_left"] == pytest.approx(1.1)
    # the console's grants page shows both; a steward starts a new period there
    wait_status(world, job["id"], {"awaiting_review"})
    browser = TestClient(world.http.app, follow_redirects=False, cookies={"console_lang": "en"})
    csrf = _sign_in(browser, world.steward)
    page = browser.get("/console/grants")
    assert page.status_code == 200
    assert 'class="firm-spent">0.9<' in page.text and 'class="grant-spent">0.3<' in page.text
    refused = browser.post(
        "/console/budgets/periods",
        data={"org_id": world.firm_id, "dataset": "residents", "reason": "x", "csrf": csrf},
    )
    assert refused.status_code == 422 and 'id="period-error"' in refused.text
    started = browser.post(
        "/console/budgets/periods",
        data={"org_id": world.firm_id, "dataset": "residents", "reason": "new year", "csrf": csrf},
    )
    assert started.status_code == 303
    assert _grant_view(world, second)["budgets"][0]["period"] == 2
    review = browser.get(f"/console/jobs/{job['id']}?lang=en")
    assert review.status_code == 200 and "spent by the firm" in review.text


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _sign_in(browser: TestClient, token: str) -> str:
    """Sign in to the console; return the session's CSRF token."""
    form = browser.get("/console/login")
    found = _CSRF.search(form.text)
    assert found
    response = browser.post("/console/login", data={"token": token, "csrf": found[1]})
    assert response.status_code == 303, response.text
    queue = _CSRF.search(browser.get("/console/queue").text)
    assert queue
    return queue[1]


def test_ledger_when_the_firm_spent_more_delta_than_a_grant_allows_then_it_takes_nothing(
    world: World,
):
    wide = _grant(world, epsilon=1.0, delta=1e-5)
    body = {
        "grant_id": wide,
        "spec": aggregate_spec(epsilon=0.5, noise="gaussian", delta=1e-6),
        "purpose": "gaussian",
    }
    assert world.http.post("/v1/jobs", headers=world.as_("operator"), json=body).status_code == 202
    # the first grant allows no δ: the firm's δ is beyond it, so nothing more fits under it
    view = _grant_view(world, world.grant_id)
    [budget] = view["budgets"]
    assert 0.5 <= budget["firm_epsilon_spent"] < 1.0 and budget["firm_delta_spent"] > 0
    assert (view["epsilon_left"], view["delta_left"]) == (0.0, 0.0)
    assert _submit(world, world.grant_id, 1, 0.1).status_code == 409
    assert _submit(world, wide, 2, 0.1).status_code == 202


def test_cli_when_steward_starts_a_budget_period_then_budget_shows_it_per_dataset(
    tmp_path: Path, db_url: str
):
    import json

    from typer.testing import CliRunner

    from sandbox.cli.demo import free_port, serving
    from sandbox.cli.main import app

    sandbox = Sandbox(
        Settings(data_dir=tmp_path / "cli", database_url=db_url), runner=InProcessRunner()
    )
    with serving(sandbox, free_port()) as url, httpx.Client(base_url=url) as http:
        world = build_world(http, sandbox, epsilon=1.0)  # type: ignore[arg-type]

        def cli(who: str, *args: str) -> Any:
            env = {"SANDBOX_URL": url, "SANDBOX_TOKEN": getattr(world, who), "COLUMNS": "250"}
            return CliRunner().invoke(app, list(args), env=env)

        assert _submit(world, world.grant_id, 1, 0.6).status_code == 202
        second = _grant(world, epsilon=2.0)
        rows = json.loads(cli("operator", "budget", "--json").stdout)
        assert [(r["grant_id"], r["dataset"]) for r in rows] == [
            (world.grant_id, "residents"),
            (second, "residents"),
        ]
        assert [r["firm_epsilon_spent"] for r in rows] == pytest.approx([0.6, 0.6])
        assert [r["epsilon_spent"] for r in rows] == pytest.approx([0.6, 0.0])
        assert [r["epsilon_left"] for r in rows] == pytest.approx([0.4, 1.4])
        table = cli("operator", "budget")
        assert table.exit_code == 0 and "ε spent (firm)" in table.stdout
        refused = cli(
            "operator",
            "grants",
            "new-period",
            str(world.firm_id),
            "residents",
            "--reason",
            "a new year",
        )
        assert refused.exit_code == 1 and "error:" in refused.stderr
        started = cli(
            "steward",
            "grants",
            "new-period",
            str(world.firm_id),
            "residents",
            "--reason",
            "a new year",
        )
        assert started.exit_code == 0, started.output
        assert "budget period 2" in started.stdout
        rows = json.loads(cli("operator", "budget", "--json").stdout)
        assert [(r["period"], r["firm_epsilon_spent"]) for r in rows] == [(2, 0.0), (2, 0.0)]


def test_ledger_when_the_firm_spent_past_a_grants_totals_then_a_free_job_still_fits(
    world: World,
):
    assert _submit(world, world.grant_id, 1, 0.9).status_code == 202
    smaller = _grant(world, epsilon=0.5, kinds=("extract",))  # the firm spent more than it
    wide = _grant(world, epsilon=1.0, delta=1e-5)
    body = {
        "grant_id": wide,
        "spec": aggregate_spec(epsilon=0.05, noise="gaussian", delta=1e-6),
        "purpose": "gaussian",
    }
    assert world.http.post("/v1/jobs", headers=world.as_("operator"), json=body).status_code == 202
    no_delta = _grant(world, epsilon=2.0, kinds=("extract",))  # δ=0, the firm spent δ
    for grant_id, k in ((smaller, 5), (no_delta, 6)):
        spec = _EXTRACT | {"k": k}  # not identical: no cache hit
        body = {"grant_id": grant_id, "spec": spec, "purpose": "an extract"}
        estimate = world.http.post("/v1/jobs/estimate", headers=world.as_("operator"), json=body)
        assert estimate.status_code == 200 and estimate.json()["fits"] is True, estimate.text
        accepted = world.http.post("/v1/jobs", headers=world.as_("operator"), json=body)
        assert accepted.status_code == 202, accepted.text
    with world.sandbox.db.session() as s:
        entries = s.scalars(
            select(LedgerEntry).where(LedgerEntry.grant_id.in_([smaller, no_delta]))
        )
        assert [(e.epsilon, e.delta) for e in entries] == [(0, 0), (0, 0)]  # still recorded


def _review(world: World, job_id: int) -> None:
    wait_status(world, job_id, {"awaiting_review"})
    approved = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "approve", "reason": "looks fine to release"},
    )
    assert approved.status_code == 200, approved.text


def _terminate(world: World, grant_id: int) -> None:
    response = world.http.post(
        f"/v1/grants/{grant_id}/terminate",
        headers=world.as_("steward"),
        json={"reason": "the study was stopped"},
    )
    assert response.status_code == 200, response.text


def _download(world: World, job_id: int) -> httpx.Response:
    return world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))


def test_submit_when_the_cached_answers_grant_ended_then_it_is_reissued_under_the_new_grant(
    world: World,
):
    first = int(world.submit(epsilon=0.5).json()["id"])
    _review(world, first)
    original = _download(world, first)
    assert original.status_code == 200
    _terminate(world, world.grant_id)
    assert _download(world, first).status_code == 403  # art. 76
    second = _grant(world, epsilon=1.0)
    again = world.submit(grant_id=second, epsilon=0.5)
    assert again.status_code == 202, again.text
    reissued = again.json()
    assert reissued["id"] != first and reissued["status"] == "released"
    download = _download(world, reissued["id"])
    assert download.status_code == 200, download.text
    assert download.content == original.content  # the same noisy answer, no fresh noise
    manifest = world.http.get(
        f"/v1/jobs/{reissued['id']}/manifest", headers=world.as_("operator")
    ).json()
    assert manifest["manifest"]["job_id"] == first
    # asked once more: the re-issued job, not another one
    assert world.submit(grant_id=second, epsilon=0.5).json()["id"] == reissued["id"]
    estimate = world.http.post(
        "/v1/jobs/estimate",
        headers=world.as_("operator"),
        json={"grant_id": second, "spec": aggregate_spec(epsilon=0.5)},
    ).json()
    assert estimate["fits"] is True and estimate["cached_job_id"] == reissued["id"]
    assert _grant_view(world, second)["epsilon_spent"] == 0
    with world.sandbox.db.session() as s:
        assert len(s.scalars(select(LedgerEntry)).all()) == 1
        hits = s.scalars(select(AuditEntry).where(AuditEntry.action == "job.cache_hit")).all()
        assert [(h.subject, h.details.get("reissued_as")) for h in hits] == [
            (f"job:{first}", reissued["id"]),
            (f"job:{reissued['id']}", None),
        ]


def test_submit_when_the_cached_answers_grant_ended_before_review_then_refused_until_released(
    world: World,
):
    first = int(world.submit(epsilon=0.5).json()["id"])
    wait_status(world, first, {"awaiting_review"})
    _terminate(world, world.grant_id)
    second = _grant(world, epsilon=1.0)
    refused = world.submit(grant_id=second, epsilon=0.5)
    assert refused.status_code == 409, refused.text
    message = refused.json()["message"]
    assert f"grant {world.grant_id}" in message and "no longer in force" in message
    assert f"once a steward has reviewed job {first}" in message
    _review(world, first)
    again = world.submit(grant_id=second, epsilon=0.5)
    assert again.status_code == 202 and again.json()["status"] == "released", again.text
    assert _download(world, again.json()["id"]).status_code == 200
    with world.sandbox.db.session() as s:
        assert len(s.scalars(select(LedgerEntry)).all()) == 1


@pytest.mark.postgres
def test_ledger_when_the_firm_row_is_locked_then_a_submission_under_another_grant_waits(
    pg_world: World,
):
    world = pg_world
    assert _submit(world, world.grant_id, 1, 0.1).status_code == 202  # the firm row exists
    second = _grant(world, epsilon=1.0)
    who = _operator(world)
    outcome: list[object] = []
    db = world.sandbox.db
    with db.session() as holder:  # another submission's transaction, mid-way
        dataset_id = holder.scalar(select(Dataset.id).where(Dataset.name == "residents"))
        holder.execute(
            text("SELECT 1 FROM firm_budgets WHERE org_id = :org AND dataset_id = :ds FOR UPDATE"),
            {"org": world.firm_id, "ds": dataset_id},
        )
        holder.add(
            LedgerEntry(
                grant_id=world.grant_id,
                dataset_id=dataset_id,
                period=1,
                epsilon=0.8,
                rho=0.0,
                delta=0.0,
                conversion_delta=0.0,
            )
        )
        holder.flush()

        def submit() -> None:
            try:
                outcome.append(world.sandbox.jobs.submit(who, second, _spec(2, 0.5)))
            except BudgetExhausted as err:
                outcome.append(err)

        thread = threading.Thread(target=submit)
        thread.start()
        # the submission must wait on the row lock, not read the spend before it commits
        deadline = time.monotonic() + 30
        with db.engine.connect() as probe:
            while not _waits_on_a_lock(probe):
                assert thread.is_alive(), f"the submission did not wait for the lock: {outcome}"
                assert time.monotonic() < deadline, "the submission never waited on a lock"
                time.sleep(0.02)
        assert thread.is_alive() and not outcome
    thread.join(timeout=60)
    assert not thread.is_alive()
    [result] = outcome
    assert isinstance(result, BudgetExhausted)  # 0.9 spent: 0.5 more does not fit
    assert "any of its grants" in str(result)
    assert _submit(world, second, 3, 0.1).status_code == 202  # exactly what is left


def _waits_on_a_lock(probe: Connection) -> bool:
    """Whether another backend of this database waits for a lock (pg_stat_activity)."""
    waiting = probe.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    )
    probe.rollback()  # a fresh snapshot for the next poll
    return bool(waiting)
