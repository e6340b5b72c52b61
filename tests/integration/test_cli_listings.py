"""The service commands (status, datasets, jobs, review, grants, budget, download), live."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sandbox.cli.main import app
from sandbox.client import Client, count, mean
from tests.factories import World
from tests.integration.test_client_kinds import SMALL_CELLS_SOURCE

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def sandbox_cli(live: tuple[str, World], who: str, *args: str) -> Any:
    """Run ``sandbox ARGS`` as ``who`` (url and token from the environment, wide terminal)."""
    url, world = live
    env = {"SANDBOX_URL": url, "SANDBOX_TOKEN": getattr(world, who), "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def as_json(live: tuple[str, World], who: str, *args: str) -> Any:
    result = sandbox_cli(live, who, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def job_id(live: tuple[str, World]) -> int:
    """One aggregate submitted through the client's builder, awaiting review."""
    url, world = live
    with Client(url, world.operator) as c:
        q = c.dataset("residents").query().group_by("city")
        job = q.agg(count(), mean("income", 0, 100_000)).epsilon(0.5).submit(purpose="cli test")
        return job.wait(timeout=120, progress=False).id


def test_status_when_steward_then_database_ray_and_audit_chain_shown(live, job_id):
    result = sandbox_cli(live, "steward", "status")
    assert result.exit_code == 0, result.output
    for expected in ("steward (steward, bureau)", "sqlite: ok", "connected", "holds ("):
        assert expected in result.stdout
    report = as_json(live, "steward", "status")
    assert report["service"]["database"] == {"ok": True, "dialect": "sqlite"}
    assert report["audit"]["ok"] is True and report["me"]["role"] == "steward"
    assert "address" not in json.dumps(report["service"]["ray"])  # Ray is not a door


def test_status_when_operator_then_audit_not_visible_and_only_own_jobs_counted(live, job_id):
    report = as_json(live, "other_operator", "status")
    assert report["audit"] is None and report["service"]["jobs"] == {}
    result = sandbox_cli(live, "operator", "status")
    assert "not visible to your role" in result.stdout


def test_jobs_when_watching_then_refreshes_until_nothing_runs(live, job_id):
    result = sandbox_cli(live, "operator", "jobs", "--watch", "--interval", "0.2")
    assert result.exit_code == 0, result.output
    assert str(job_id) in result.stdout and "awaiting_review" in result.stdout
    listed = as_json(live, "operator", "jobs", "--status", "awaiting_review")
    assert [j["id"] for j in listed] == [job_id]
    assert as_json(live, "other_operator", "jobs") == []  # another firm's jobs are not shown
    assert sandbox_cli(live, "operator", "jobs", "--watch", "--json").exit_code == 2


def test_review_when_steward_approves_then_released_and_operator_downloads(live, job_id):
    assert job_id in [j["id"] for j in as_json(live, "steward", "review", "list")]
    shown = sandbox_cli(live, "steward", "review", "show", str(job_id))
    assert shown.exit_code == 0 and "disclosure checks" in shown.stdout
    assert "file_type" in shown.stdout and "pii_scan" in shown.stdout  # the checks, by name
    refused = sandbox_cli(
        live, "operator", "review", "approve", str(job_id), "--reason", "my own job"
    )
    assert refused.exit_code == 1 and "error:" in refused.stderr
    approved = sandbox_cli(
        live, "steward", "review", "approve", str(job_id), "--reason", "aggregates only"
    )
    assert approved.exit_code == 0, approved.output
    assert f"job {job_id}: released" in approved.stdout
    assert as_json(live, "steward", "review", "list") == []
    url, world = live
    with Client(url, world.operator) as c:
        table = c.job(job_id).result()
    assert table.columns[:4] == ["city", "count", "count_ci_low", "count_ci_high"]


def test_grants_when_suspended_then_jobs_refused_until_reinstated(live):
    url, world = live
    gid = str(world.grant_id)
    [listed] = as_json(live, "operator", "grants", "list")
    assert listed["id"] == world.grant_id and listed["state"] == "active"
    assert "statistics for a report" in sandbox_cli(live, "steward", "grants", "show", gid).stdout
    suspended = sandbox_cli(live, "steward", "grants", "suspend", gid, "--reason", "audit pending")
    assert suspended.exit_code == 0 and "suspended" in suspended.stdout
    try:
        with Client(url, world.operator) as c:
            q = c.dataset("residents").query().agg(count()).epsilon(0.1)
            with pytest.raises(Exception, match="no active grant covers"):
                q.submit(purpose="while suspended")
    finally:
        back = as_json(live, "steward", "grants", "reinstate", gid, "--reason", "audit passed")
    assert back["state"] == "active"
    short = sandbox_cli(live, "steward", "grants", "suspend", gid, "--reason", "x")
    assert short.exit_code == 1 and "error:" in short.stderr  # the service wants a reason


def test_budget_when_a_job_ran_then_spent_shown_per_grant(live, job_id):
    [row] = as_json(live, "operator", "budget")
    assert row["grant_id"] == live[1].grant_id
    assert row["epsilon_spent"] == pytest.approx(0.5) and row["epsilon_left"] == pytest.approx(2.5)
    table = sandbox_cli(live, "operator", "budget")
    assert table.exit_code == 0 and "privacy budget" in table.stdout and "2.5" in table.stdout


def test_review_approve_when_checks_fail_then_override_reason_releases_and_download_saves_zip(
    live, tmp_path: Path
):
    url, world = live
    with Client(url, world.steward) as steward:
        grant = steward.create_grant(
            org_id=world.firm_id,
            datasets=["residents"],
            purpose="custom counts for a pilot",
            kinds=["custom"],
            epsilon=1.0,
            delta=1e-6,
            commitment_required=True,
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
        )
    spec = {"kind": "custom", "datasets": ["residents"], "source": SMALL_CELLS_SOURCE}
    with Client(url, world.operator) as operator:
        job_id = operator.submit(grant["id"], spec, purpose="small counts").id
    with Client(url, world.steward) as steward:
        ran = steward.job(job_id).wait(timeout=180, poll=0.1, progress=False)
    failing = [c["name"] for c in ran.data["report"]["checks"] if c["verdict"] == "fail"]
    assert "small_cells" in failing
    refused = sandbox_cli(
        live, "steward", "review", "approve", str(job_id), "--reason", "counts by city"
    )
    assert refused.exit_code == 1 and "override" in refused.stderr
    approved = sandbox_cli(
        live,
        "steward",
        "review",
        "approve",
        str(job_id),
        "--reason",
        "counts by city",
        "--override-reason",
        "a dozen sample rows, published as a demo",
    )
    assert approved.exit_code == 0, approved.output
    assert f"job {job_id}: released" in approved.stdout
    saved = sandbox_cli(live, "operator", "download", str(job_id), "--to", str(tmp_path))
    assert saved.exit_code == 0, saved.output
    with Client(url, world.operator) as operator:
        manifest = operator.job(job_id).manifest()["manifest"]
    assert manifest["overrides"] == failing
    assert manifest["override_reason"] == "a dozen sample rows, published as a demo"
    written = tmp_path / f"job-{job_id}.zip"
    assert written.is_file()
    assert hashlib.sha256(written.read_bytes()).hexdigest() == manifest["output"]["sha256"]
