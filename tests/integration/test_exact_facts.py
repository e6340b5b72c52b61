"""Exact facts of stored data and runs (issue 12/13 review): admins and stewards of another
bureau read neither the exact counts nor the plain SHA-256, in the audit log, the catalog,
job views or input checks; auditors and the owning bureau's stewards do.

Jobs run in this process (no Ray), with the fixtures of ``test_bureau_boundaries``.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.store.models import Dataset
from tests.factories import World
from tests.integration import test_bureau_boundaries as boundaries
from tests.integration.test_bureau_boundaries import _awaiting, _browser, _released, _rival

world = boundaries.world  # the fixture: a service whose jobs run in this process


def _facts(world: World) -> tuple[int, str]:
    with world.sandbox.db.session() as session:
        stored = session.query(Dataset).filter_by(name="residents").one()
        return stored.row_count, stored.sha256


def _entries(world: World, who: str, action: str) -> list[dict[str, Any]]:
    response = world.http.get("/v1/audit", headers=world.as_(who))
    assert response.status_code == 200, response.text
    return [e for e in response.json() if e["action"] == action]


def _ingest(world: World, who: str) -> list[dict[str, Any]]:
    entries = _entries(world, who, "dataset.ingest")
    return [e for e in entries if e["details"]["name"] == "residents"]


def test_audit_when_admin_reads_then_no_sha256_or_rows_but_auditor_and_owner_do(world: World):
    exact, sha256 = _facts(world)
    job_id = _awaiting(world)
    _rival(world)
    for who in ("admin", "rival"):
        dump = json.dumps(world.http.get("/v1/audit", headers=world.as_(who)).json())
        assert sha256 not in dump, who
        [ingest] = _ingest(world, who)
        assert "rows" not in ingest["details"] and "sha256" not in ingest["details"], who
        assert "rows" in ingest["redacted"], who
        [finish] = [
            e for e in _entries(world, who, "job.finish") if e["subject"] == f"job:{job_id}"
        ]
        assert "rows" not in finish["details"] and "rows" in finish["redacted"], who
    for who in ("auditor", "steward"):
        [ingest] = _ingest(world, who)
        assert ingest["details"]["rows"] == exact and ingest["redacted"] == [], who
        [finish] = [
            e for e in _entries(world, who, "job.finish") if e["subject"] == f"job:{job_id}"
        ]
        assert "rows" in finish["details"], who
    # new ingest entries store the keyed digest, never the plain SHA-256
    [ingest] = _ingest(world, "auditor")
    assert "sha256" not in ingest["details"] and len(ingest["details"]["digest"]) == 64
    assert ingest["details"]["digest"] != sha256


def test_console_audit_when_steward_of_another_bureau_then_exact_facts_left_out(world: World):
    exact, _ = _facts(world)
    browser, _ = _browser(world, _rival(world))
    page = browser.get("/console/audit").text
    shown = f'<dt data-key="rows">rows</dt><dd>{exact:,}</dd>'  # a field, grouped
    assert shown not in page and "exact facts left out" in page
    owner, _ = _browser(world, world.steward)
    assert shown in owner.get("/console/audit").text


def test_verify_inputs_when_steward_of_another_bureau_then_403(world: World):
    job_id = _released(world)
    _rival(world)
    refused = world.http.get(f"/v1/manifests/{job_id}/inputs", headers=world.as_("rival"))
    assert refused.status_code == 403 and "another bureau" in refused.json()["message"]
    for who in ("steward", "auditor"):
        allowed = world.http.get(f"/v1/manifests/{job_id}/inputs", headers=world.as_(who))
        assert allowed.status_code == 200, who


def test_catalog_when_steward_of_another_bureau_then_public_count_only(world: World):
    exact, sha256 = _facts(world)
    _rival(world)
    view = world.http.get("/v1/datasets/residents", headers=world.as_("rival")).json()
    assert view["row_count"] is None and view["sha256"] is None
    own = world.http.get("/v1/datasets/rival_residents", headers=world.as_("rival")).json()
    assert own["row_count"] == 200 and own["sha256"]
    browser, _ = _browser(world, world.rival)  # type: ignore[attr-defined]
    page = browser.get("/console/catalog").text
    section = page.split('id="dataset-residents"')[1].split("</section>")[0]
    assert sha256 not in section and f"<dd>{exact} in" not in section
    assert "about" in section and "%" not in section  # no quality profile either
    assert own["sha256"] in page  # its own dataset's facts
    owner, _ = _browser(world, world.steward)
    assert sha256 in owner.get("/console/catalog").text


def test_job_view_when_steward_of_another_bureau_then_no_run_report(world: World):
    job_id = _awaiting(world)
    _rival(world)
    for path in (f"/v1/jobs/{job_id}", "/v1/jobs"):
        rival = world.http.get(path, headers=world.as_("rival")).json()
        owner = world.http.get(path, headers=world.as_("steward")).json()
        rival_job = rival if isinstance(rival, dict) else rival[0]
        owner_job = owner if isinstance(owner, dict) else owner[0]
        assert rival_job["report"] is None, path
        assert owner_job["report"] and "checks" in owner_job["report"], path


def test_dpsgd_when_public_count_is_below_the_batch_then_422_not_the_exact_count(world: World):
    from tests.integration.test_kinds_api import _all_kinds_grant, _train_spec

    grant_id = _all_kinds_grant(world)
    spec = _train_spec() | {"delta": 1e-5, "model": {"type": "mlp", "epochs": 1, "batch_size": 64}}
    with world.sandbox.db.session() as session:
        stored = session.query(Dataset).filter_by(name="residents").one()
        stored.public_row_count = 0  # a tiny dataset's noisy count; the exact one is 600
    for path in ("/v1/jobs/estimate", "/v1/jobs"):
        response = world.http.post(
            path,
            headers=world.as_("operator"),
            json={"grant_id": grant_id, "spec": spec, "purpose": "a small model"},
        )
        assert response.status_code == 422, response.text
        message = response.json()["message"]
        assert "public row count (about 0)" in message and "lower batch_size" in message
        assert "600" not in message


def test_console_job_when_steward_of_another_bureau_then_no_checks_or_run_facts(world: World):
    job_id = _awaiting(world)
    browser, _ = _browser(world, _rival(world))
    page = browser.get(f"/console/jobs/{job_id}").text
    assert 'id="no-exact-facts"' in page and 'class="check"' not in page
    owner, _ = _browser(world, world.steward)
    assert 'class="check"' in owner.get(f"/console/jobs/{job_id}").text
