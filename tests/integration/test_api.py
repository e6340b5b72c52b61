"""The acceptance points of the walking skeleton, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re

import polars as pl
import pytest
from sqlalchemy import delete, select, update

from sandbox.store.models import AuditEntry, DatasetColumn, Job
from tests.factories import World, wait_status

pytestmark = pytest.mark.ray


def _released_job(world: World) -> int:
    response = world.submit()
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    wait_status(world, job_id, {"awaiting_review"})
    review = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "approve", "reason": "aggregates, checks pass"},
    )
    assert review.status_code == 200, review.text
    return int(job_id)


def test_api_when_operator_calls_every_get_route_then_no_raw_value_comes_back(world: World):
    released = _released_job(world)
    pending = world.submit(epsilon=0.5).json()["id"]
    wait_status(world, pending, {"awaiting_review"})
    params = {
        "job_id": released,
        "grant_id": world.grant_id,
        "name": "residents",
        "user_id": 1,
        "column": "city",
    }
    identifiers = set(world.frame["resident_id"]) | set(world.frame["phone"])
    paths = [p for p, ops in world.http.app.openapi()["paths"].items() if "get" in ops]
    assert len(paths) >= 10  # the route list is real, not empty
    seen = 0
    for template in paths:
        for job_id in (released, pending):
            values = {**params, "job_id": job_id}
            path = re.sub(r"\{(\w+)\}", lambda m, v=values: str(v[m[1]]), template)
            response = world.http.get(path, headers=world.as_("operator"))
            body = response.content.decode("utf-8", errors="replace")
            leaked = [v for v in identifiers if v in body]
            assert not leaked, f"{path} returned identifiers"
            seen += response.status_code == 200
    assert seen >= 8
    # The one table an operator receives is the released aggregate, with no identifier column.
    table = world.http.get(f"/v1/jobs/{released}/output", headers=world.as_("operator"))
    assert table.status_code == 200

    released_table = pl.read_parquet(io.BytesIO(table.content))
    assert set(released_table.columns) == {
        "city",
        "count",
        "count_ci_low",
        "count_ci_high",
        "mean_income",
        "mean_income_ci_low",
        "mean_income_ci_high",
        "suppressed",
    }
    assert released_table["city"].to_list() == ["南京市", "苏州市", "无锡市"]  # declared keys


def test_output_when_not_approved_then_403_for_all_but_stewards(world: World):
    job_id = world.submit().json()["id"]
    wait_status(world, job_id, {"awaiting_review"})
    for who in ("operator", "auditor", "admin"):
        response = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_(who))
        assert response.status_code == 403, who
        assert "approved" in response.json()["message"]
    assert (
        world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("steward")).status_code == 200
    )


def test_output_when_rejected_then_nobody_downloads_it(world: World):
    job_id = world.submit().json()["id"]
    wait_status(world, job_id, {"awaiting_review"})
    response = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "reject", "reason": "too fine-grained"},
    )
    assert response.json()["status"] == "rejected"
    for who in ("operator", "steward"):
        assert (
            world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_(who)).status_code == 403
        )


def test_job_when_other_org_operator_asks_then_404_everywhere(world: World):
    job_id = _released_job(world)
    for suffix in ("", "/output", "/manifest"):
        response = world.http.get(f"/v1/jobs/{job_id}{suffix}", headers=world.as_("other_operator"))
        assert response.status_code == 404, suffix
    listed = world.http.get("/v1/jobs", headers=world.as_("other_operator")).json()
    assert listed == []
    assert (
        world.http.get(
            f"/v1/grants/{world.grant_id}", headers=world.as_("other_operator")
        ).status_code
        == 404
    )
    # and the other firm cannot submit under the first firm's grant
    assert world.submit("other_operator").status_code == 404


def test_submit_when_overspending_then_409_and_ledger_unchanged(world: World):
    first = world.submit(epsilon=2.0)
    assert first.status_code == 202
    before = world.grant()
    ids_before = [j["id"] for j in world.http.get("/v1/jobs", headers=world.as_("steward")).json()]
    response = world.submit(epsilon=1.5)  # 2.0 + 1.5 > 3.0
    assert response.status_code == 409
    assert response.json()["error"] == "budget_exhausted"
    assert "left" in response.json()["message"]
    after = world.grant()
    assert after["epsilon_spent"] == before["epsilon_spent"] == 2.0
    ids_after = [j["id"] for j in world.http.get("/v1/jobs", headers=world.as_("steward")).json()]
    assert ids_after == ids_before  # no job row for the refused submission
    assert world.submit(epsilon=1.0).status_code == 202  # exactly what is left still fits


def test_submit_when_grant_suspended_then_refused_until_reinstated(world: World):
    path = f"/v1/grants/{world.grant_id}"
    suspended = world.http.post(
        f"{path}/suspend", headers=world.as_("steward"), json={"reason": "exceeded declared scope"}
    )
    assert suspended.json()["state"] == "suspended"
    response = world.submit()
    assert response.status_code == 403
    assert "art. 76" in response.json()["message"]
    assert world.grant()["epsilon_spent"] == 0
    world.http.post(
        f"{path}/reinstate",
        headers=world.as_("steward"),
        json={"reason": "remedied after inspection"},
    )
    assert world.submit().status_code == 202
    terminated = world.http.post(
        f"{path}/terminate", headers=world.as_("steward"), json={"reason": "contract ended"}
    )
    assert terminated.json()["state"] == "terminated"
    again = world.http.post(
        f"{path}/reinstate", headers=world.as_("steward"), json={"reason": "try to revive"}
    )
    assert again.status_code == 409


def test_spec_when_direct_identifier_used_then_422_and_no_budget_spent(world: World):
    response = world.submit(group_by=["phone"])
    assert response.status_code == 422
    assert "art. 37" in response.json()["message"]
    response = world.submit(
        filters=[{"column": "resident_id", "op": "eq", "value": "320102198001010010"}]
    )
    assert response.status_code == 422
    assert "320102198001010010" not in response.text
    assert world.grant()["epsilon_spent"] == 0


def test_review_when_decided_then_manifest_is_signed_and_complete(world: World):
    from sandbox.audit import signing

    job_id = _released_job(world)
    release = world.http.get(f"/v1/jobs/{job_id}/manifest", headers=world.as_("operator")).json()
    manifest = release["manifest"]
    key = world.http.get("/v1/manifests/public-key").text
    assert signing.verify(key, manifest, release["signature"])
    assert not signing.verify(key, {**manifest, "approver": "someone else"}, release["signature"])
    output = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
    import hashlib

    assert manifest["output"]["sha256"] == hashlib.sha256(output.content).hexdigest()
    # the inputs are committed to with a keyed digest, never the plain hash or exact count
    assert (
        manifest["datasets"][0]["digest"]
        == world.http.get("/v1/datasets/residents", headers=world.as_("auditor")).json()["digest"]
    )
    assert "sha256" not in manifest["datasets"][0] and "rows" not in manifest["datasets"][0]
    assert manifest["privacy"]["epsilon"] == 1.0
    assert re.fullmatch(r"steward-[0-9a-f]{16}", manifest["approver"])  # a keyed reference
    assert manifest["approving_organisation"] == "bureau"
    assert {c["name"] for c in manifest["checks"]} >= {"pii_scan", "small_cells"}
    # the operator's manifest holds no check's reason (exact, non-private facts of the input)
    assert all(set(c) == {"name", "verdict"} for c in manifest["checks"])
    # a second decision on the same job is refused
    again = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "reject", "reason": "changed my mind"},
    )
    assert again.status_code == 409


def test_submit_when_identical_query_repeats_then_cached_answer_at_no_cost(world: World):
    first = world.submit(epsilon=0.5).json()
    again = world.submit(epsilon=0.5)
    assert again.status_code == 202
    assert again.json()["id"] == first["id"]
    assert world.grant()["epsilon_spent"] == 0.5
    different = world.submit(epsilon=0.5, group_by=["age"]).json()
    assert different["id"] != first["id"]
    assert world.grant()["epsilon_spent"] == 1.0
    # a rejected answer was never released: asking again runs (and costs) again
    wait_status(world, first["id"], {"awaiting_review"})
    world.http.post(
        f"/v1/jobs/{first['id']}/review",
        headers=world.as_("steward"),
        json={"decision": "reject", "reason": "not needed after all"},
    )
    rerun = world.submit(epsilon=0.5).json()
    assert rerun["id"] not in (first["id"], different["id"])
    assert world.grant()["epsilon_spent"] == 1.5


def test_estimate_when_asked_then_nothing_is_spent_and_run_charges_the_same(world: World):
    from tests.factories import aggregate_spec

    spec = aggregate_spec(epsilon=0.7)
    body = {"grant_id": world.grant_id, "spec": spec}
    estimate = world.http.post("/v1/jobs/estimate", headers=world.as_("operator"), json=body)
    assert estimate.status_code == 200, estimate.text
    figures = estimate.json()
    assert (figures["epsilon"], figures["delta"], figures["fits"]) == (0.7, 0.0, True)
    assert [a["name"] for a in figures["aggregates"]] == ["count", "mean_income"]
    assert all(a["ci_half_width"] > 0 for a in figures["aggregates"])
    assert world.grant()["epsilon_spent"] == 0  # estimating is free
    job = world.submit(epsilon=0.7).json()
    assert world.grant()["epsilon_spent"] == figures["epsilon"]
    again = world.http.post("/v1/jobs/estimate", headers=world.as_("operator"), json=body).json()
    assert again["cached_job_id"] == job["id"]  # the same query now costs nothing
    too_much = {"grant_id": world.grant_id, "spec": aggregate_spec(epsilon=2.5)}
    assert (
        world.http.post("/v1/jobs/estimate", headers=world.as_("operator"), json=too_much).json()[
            "fits"
        ]
        is False
    )
    other = world.http.post("/v1/jobs/estimate", headers=world.as_("other_operator"), json=body)
    assert other.status_code == 404


def test_grant_when_it_sets_a_stricter_small_cell_threshold_then_jobs_use_it(world: World):
    import datetime as dt

    grant = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={
            "org_id": world.firm_id,
            "datasets": ["residents"],
            "purpose": "strict statistics",
            "kinds": ["aggregate"],
            "epsilon": 1.0,
            "min_cell": 1000,
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat(),
        },
    ).json()
    assert grant["min_cell"] == 1000
    job = world.submit(grant_id=grant["id"]).json()
    done = wait_status(world, job["id"], {"awaiting_review"})
    # 600 residents in 3 cities: every cell is under 1,000 and suppressed
    assert done["report"]["suppressed_cells"] == 3


def test_download_when_grant_suspended_after_release_then_refused_until_reinstated(
    world: World,
):
    job_id = _released_job(world)
    path = f"/v1/grants/{world.grant_id}"
    world.http.post(
        f"{path}/suspend", headers=world.as_("steward"), json={"reason": "exceeded declared scope"}
    )
    refused = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
    assert refused.status_code == 403 and "art. 76" in refused.json()["message"]
    world.http.post(
        f"{path}/reinstate",
        headers=world.as_("steward"),
        json={"reason": "remedied after inspection"},
    )
    assert (
        world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator")).status_code
        == 200
    )


def test_review_when_operator_or_auditor_tries_then_403(world: World):
    job_id = world.submit().json()["id"]
    wait_status(world, job_id, {"awaiting_review"})
    for who in ("operator", "auditor"):
        response = world.http.post(
            f"/v1/jobs/{job_id}/review",
            headers=world.as_(who),
            json={"decision": "approve", "reason": "looks fine"},
        )
        assert response.status_code == 403, who


def test_audit_when_one_row_edited_then_verify_fails_at_that_row(world: World):
    job_id = _released_job(world)
    world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
    ok = world.http.get("/v1/audit/verify", headers=world.as_("auditor")).json()
    assert ok["ok"] and ok["entries"] > 10
    actions = {
        e["action"]
        for e in world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
    }
    assert {
        "dataset.ingest",
        "grant.create",
        "job.submit",
        "job.run",
        "job.finish",
        "review.approve",
        "output.download",
        "user.create",
    } <= actions
    target = ok["entries"] // 2
    with world.sandbox.db.session() as session:
        session.execute(
            update(AuditEntry).where(AuditEntry.seq == target).values(actor="user:mallory")
        )
    broken = world.http.get("/v1/audit/verify", headers=world.as_("auditor")).json()
    assert broken == {**broken, "ok": False, "broken_at": target}


def test_audit_when_the_release_entry_is_cut_off_the_end_then_verify_fails(world: World):
    # A hash chain cannot show that its last entries were deleted; the releases table can.
    job_id = _released_job(world)
    assert world.http.get("/v1/audit/verify", headers=world.as_("auditor")).json()["ok"]
    with world.sandbox.db.session() as session:
        approve = session.scalar(
            select(AuditEntry.seq).where(
                AuditEntry.action == "review.approve", AuditEntry.subject == f"job:{job_id}"
            )
        )
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= approve))
    broken = world.http.get("/v1/audit/verify", headers=world.as_("auditor")).json()
    assert broken["ok"] is False and f"job {job_id} was released" in broken["reason"]
    assert broken["broken_at"] == broken["entries"] + 1  # missing from past the chain's end


def test_audit_when_chain_is_recomputed_after_an_edit_then_verify_names_the_mac(world: World):
    from sandbox.audit import chain as audit

    job_id = _released_job(world)
    manifest = world.http.get(f"/v1/jobs/{job_id}/manifest", headers=world.as_("operator")).json()
    ok = world.http.get("/v1/audit/verify", headers=world.as_("auditor")).json()
    assert ok == {**ok, "ok": True, "releases": 1, "unmaced": 0, "note": ""}
    named = manifest["manifest"]["audit_head"]  # the head the signed manifest saw
    assert 0 < named["seq"] < ok["head_seq"] and len(named["hash"]) == 64
    with world.sandbox.db.session() as session:  # an insider rewrites entry 2 and what follows
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        prev = rows[0].hash
        for e in rows[1:]:
            actor = "user:mallory" if e.seq == 2 else e.actor
            digest = audit.entry_hash(
                e.seq, e.at, actor, e.action, e.subject, e.details, prev, e.mac_key
            )
            session.execute(
                update(AuditEntry)
                .where(AuditEntry.seq == e.seq)
                .values(actor=actor, prev_hash=prev, hash=digest)
            )
            prev = digest
    broken = world.http.get("/v1/audit/verify", headers=world.as_("auditor")).json()
    assert broken == {**broken, "ok": False, "broken_at": 2}
    assert "MAC does not match" in broken["reason"]


def test_job_when_finished_then_status_and_budget_are_recorded(world: World):
    job_id = world.submit(epsilon=0.5).json()["id"]
    job = wait_status(world, job_id, {"awaiting_review"})
    assert job["report"]["epsilon_spent"] == 0.5
    assert job["report"]["suppressed_cells"] == 0
    assert world.grant()["epsilon_spent"] == 0.5
    operator_view = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("operator")).json()
    assert operator_view["report"] is None  # nothing of the output before release
    with world.sandbox.db.session() as session:
        row = session.scalar(select(Job).where(Job.id == job_id))
        assert row is not None and row.output_sha256


def test_job_when_query_fails_in_ray_then_failed_without_values(world: World):
    # A filter of the wrong type is refused before any charge (test_hostile_requests); a
    # catalog that disagrees with the stored data makes the comparison fail inside Ray.
    with world.sandbox.db.session() as session:
        session.execute(
            update(DatasetColumn).where(DatasetColumn.name == "city").values(dtype="Int64")
        )
    response = world.submit(filters=[{"column": "city", "op": "gt", "value": 7}])
    assert response.status_code == 202
    job = wait_status(world, response.json()["id"], {"failed", "awaiting_review"})
    assert job["status"] == "failed"
    assert "南京市" not in job["error"] and "苏州市" not in job["error"]
    assert world.grant()["epsilon_spent"] == 1.0  # a failed job's budget is not handed back
