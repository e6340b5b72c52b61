"""Extract, train and custom jobs over HTTP: grant, ledger, quarantine, checks, review."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select, update

from sandbox.store.models import Job, LedgerEntry
from tests.factories import World, wait_status

pytestmark = pytest.mark.ray


def _all_kinds_grant(world: World, **terms: Any) -> int:
    response = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={
            "org_id": world.firm_id,
            "datasets": ["residents"],
            "purpose": "anonymized extracts, models and custom analysis",
            "kinds": ["aggregate", "extract", "train", "custom"],
            "epsilon": 5.0,
            "delta": 1e-5,
            "commitment_required": True,
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
            **terms,
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _submit(world: World, grant_id: int, spec: dict[str, Any]) -> dict[str, Any]:
    response = world.http.post(
        "/v1/jobs",
        headers=world.as_("operator"),
        json={"grant_id": grant_id, "spec": spec, "purpose": "kind test"},
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def _checks(world: World, job_id: int) -> dict[str, str]:
    job = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("steward")).json()
    return {c["name"]: c["verdict"] for c in job["report"]["checks"]}


def _approve(world: World, job_id: int, **extra: Any) -> Any:
    return world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "approve", "reason": "checked every file", **extra},
    )


EXTRACT = {
    "kind": "extract",
    "dataset": "residents",
    "columns": ["city", "age", "income", "household_size", "phone"],
    "k": 5,
    "l": 2,
}


def test_extract_when_approved_then_operator_gets_k_anonymous_rows_without_identifiers(
    world: World,
):
    grant_id = _all_kinds_grant(world)
    job = _submit(world, grant_id, EXTRACT)
    done = wait_status(world, job["id"], {"awaiting_review", "failed"}, timeout=120)
    assert done["status"] == "awaiting_review", done.get("error")
    report = world.http.get(f"/v1/jobs/{job['id']}", headers=world.as_("steward")).json()["report"]
    assert report["k_achieved"] >= 5
    # the operator sees the status, never the risk report or the checks before release
    mine = world.http.get(f"/v1/jobs/{job['id']}", headers=world.as_("operator")).json()
    assert not mine.get("report")
    assert _approve(world, job["id"]).status_code == 200
    body = world.http.get(f"/v1/jobs/{job['id']}/output", headers=world.as_("operator"))
    assert body.status_code == 200
    table = pl.read_parquet(io.BytesIO(body.content))
    assert "phone" not in table.columns  # a direct identifier is dropped, not released
    text = table.write_csv()
    assert not [v for v in world.frame["phone"].to_list() if v in text]
    assert not [v for v in world.frame["resident_id"].to_list() if v in text]
    quasi = [c for c in ("city", "age") if c in table.columns]
    assert table.group_by(quasi).len()["len"].min() >= 5
    # the extract went through the ledger at no ε
    with world.sandbox.db.session() as session:
        entries = session.scalars(select(LedgerEntry).where(LedgerEntry.job_id == job["id"])).all()
        assert [(e.epsilon, e.rho, e.delta) for e in entries] == [(0.0, 0.0, 0.0)]


def test_extract_when_steward_stored_a_hierarchy_then_the_run_uses_it_under_its_name(
    world: World,
):
    region = "南京市;苏南;*\n苏州市;苏南;*\n无锡市;苏南;*\n"
    stored = world.http.put(
        "/v1/datasets/residents/hierarchies/city",
        headers=world.as_("steward"),
        json={"csv": region, "name": "region"},
    )
    assert stored.status_code == 200, stored.text
    grant_id = _all_kinds_grant(world)
    spec = EXTRACT | {"hierarchies": {"city": {"kind": "named", "name": "region"}}}
    job = _submit(world, grant_id, spec)
    done = wait_status(world, job["id"], {"awaiting_review", "failed"}, timeout=120)
    assert done["status"] == "awaiting_review", done.get("error")
    report = world.http.get(f"/v1/jobs/{job['id']}", headers=world.as_("steward")).json()["report"]
    city = report["generalization"]["city"]
    assert city == city | {"source": "steward", "hierarchy": {"kind": "table", "name": "region",
                                                              "height": 2}}  # fmt: skip


def test_extract_when_grant_lacks_the_kind_then_refused_before_anything_runs(world: World):
    response = world.http.post(
        "/v1/jobs",
        headers=world.as_("operator"),
        json={"grant_id": world.grant_id, "spec": EXTRACT, "purpose": "out of scope"},
    )
    assert response.status_code == 403
    assert "extract" in response.json()["message"]


def test_extract_when_pseudonyms_asked_without_linkage_then_refused(world: World):
    grant_id = _all_kinds_grant(world)
    response = world.http.post(
        "/v1/jobs",
        headers=world.as_("operator"),
        json={
            "grant_id": grant_id,
            "spec": EXTRACT | {"columns": ["resident_id", "city"], "pseudonymize": ["resident_id"]},
        },
    )
    assert response.status_code == 403, response.text
    assert "linkage" in response.json()["message"]


def _train_spec() -> dict[str, Any]:
    return {
        "kind": "train",
        "dataset": "residents",
        "epsilon": 1.0,
        "model": {"type": "logistic_regression"},
        "features": [
            {"column": "age", "lower": 18, "upper": 80},
            {"column": "household_size", "lower": 1, "upper": 6},
        ],
        "label": {"column": "income", "threshold": 32_500},
    }


def test_extract_when_grant_failed_three_today_then_more_refused_until_a_day_passed(
    world: World,
):
    grant_id = _all_kinds_grant(world)
    infeasible = {**EXTRACT, "k": 10_000, "suppression_limit": 0.0}

    def extract(k: int) -> Any:
        body = {"grant_id": grant_id, "spec": {**infeasible, "k": k}, "purpose": "search"}
        return world.http.post("/v1/jobs", headers=world.as_("operator"), json=body)

    # A binary search for the record count, one bit a try, submitted as a burst: the
    # queued and running extracts count before they fail.
    jobs = [extract(k).json()["id"] for k in (10_000, 9_000, 8_000)]
    burst = extract(7_000)
    assert burst.status_code == 403
    assert "3 extracts that failed" in burst.json()["message"]
    for job_id in jobs:
        done = wait_status(world, job_id, {"awaiting_review", "failed"}, timeout=120)
        assert done["status"] == "failed"
    assert extract(6_000).status_code == 403
    # other kinds go on; a day later, extracts do too
    assert world.submit(grant_id=grant_id, epsilon=0.5).status_code == 202
    with world.sandbox.db.session() as session:
        session.execute(
            update(Job)
            .where(Job.grant_id == grant_id, Job.kind == "extract")
            .values(finished_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25))
        )
        session.commit()
    assert _submit(world, grant_id, EXTRACT)["kind"] == "extract"


def test_train_when_run_then_charged_to_the_ledger_and_model_is_json(world: World):
    grant_id = _all_kinds_grant(world)
    estimate = world.http.post(
        "/v1/jobs/estimate",
        headers=world.as_("operator"),
        json={"grant_id": grant_id, "spec": _train_spec()},
    )
    assert estimate.status_code == 200, estimate.text
    assert estimate.json()["epsilon"] == pytest.approx(1.0)
    job = _submit(world, grant_id, _train_spec())
    done = wait_status(world, job["id"], {"awaiting_review", "failed"}, timeout=120)
    assert done["status"] == "awaiting_review", done.get("error")
    grant = world.http.get(f"/v1/grants/{grant_id}", headers=world.as_("steward")).json()
    assert grant["epsilon_spent"] == pytest.approx(1.0)
    assert _checks(world, job["id"])["file_type"] == "pass"
    assert _approve(world, job["id"]).status_code == 200
    body = world.http.get(f"/v1/jobs/{job['id']}/output", headers=world.as_("operator"))
    model = json.loads(body.content)
    assert len(model["parameters"]["coef"][0]) == 2  # one weight per declared feature


CUSTOM_SOURCE = """
import polars as pl
frame = pl.read_parquet("/data/residents.parquet")
table = frame.group_by("city").agg(pl.len().alias("people")).sort("city")
table.write_csv("/output/people_by_city.csv")
print("wrote", table.height, "rows")
"""

SMUGGLER_SOURCE = """
import polars as pl
frame = pl.read_parquet("/data/residents.parquet")
frame.select("phone", "city").head(100).write_csv("/output/summary.csv")
"""


def test_custom_when_run_then_output_needs_review_and_logs_stay_with_the_bureau(world: World):
    grant_id = _all_kinds_grant(world)
    job = _submit(
        world, grant_id, {"kind": "custom", "datasets": ["residents"], "source": CUSTOM_SOURCE}
    )
    done = wait_status(world, job["id"], {"awaiting_review", "failed"}, timeout=180)
    assert done["status"] == "awaiting_review", done.get("error")
    steward_view = world.http.get(f"/v1/jobs/{job['id']}", headers=world.as_("steward")).json()
    assert "wrote 3 rows" in json.dumps(steward_view["report"])
    operator_view = world.http.get(f"/v1/jobs/{job['id']}", headers=world.as_("operator")).json()
    assert "wrote 3 rows" not in json.dumps(operator_view)  # the log, not the source
    assert (
        world.http.get(f"/v1/jobs/{job['id']}/output", headers=world.as_("operator")).status_code
        == 403
    )
    assert _approve(world, job["id"]).status_code == 200
    body = world.http.get(f"/v1/jobs/{job['id']}/output", headers=world.as_("operator"))
    with zipfile.ZipFile(io.BytesIO(body.content)) as archive:
        # named in the sandbox: the code's own names reach the reviewing steward only
        assert archive.namelist() == ["file-1.csv"]
        table = pl.read_csv(archive.read("file-1.csv"))
    assert table["people"].sum() == world.frame.height


def test_custom_when_code_copies_identifiers_then_checks_block_approval(world: World):
    grant_id = _all_kinds_grant(world)
    job = _submit(
        world, grant_id, {"kind": "custom", "datasets": ["residents"], "source": SMUGGLER_SOURCE}
    )
    done = wait_status(world, job["id"], {"awaiting_review", "failed"}, timeout=180)
    assert done["status"] == "awaiting_review", done.get("error")
    verdicts = _checks(world, job["id"])
    assert verdicts["pii_scan"] == "fail" or verdicts["raw_rows"] == "fail"
    refused = _approve(world, job["id"])
    assert refused.status_code == 409
    assert (
        world.http.get(f"/v1/jobs/{job['id']}/output", headers=world.as_("operator")).status_code
        == 403
    )
