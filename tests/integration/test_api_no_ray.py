"""The API's acceptance points that run no job: a service without Ray, on SQLite and PostgreSQL.

Their siblings that run jobs are in ``test_api.py`` (on the session's Ray).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from sandbox.access.throttle import SignInThrottle
from sandbox.service import Sandbox
from tests.factories import TAGS, World, residents


@pytest.fixture
def service(
    ray_free_service: tuple[TestClient, Sandbox],
) -> Iterator[tuple[TestClient, Sandbox]]:
    """No Ray: a job submitted here fails, and no test here submits one."""
    yield ray_free_service


def test_grant_when_operator_tries_to_suspend_then_403(world: World):
    response = world.http.post(
        f"/v1/grants/{world.grant_id}/suspend",
        headers=world.as_("operator"),
        json={"reason": "not allowed"},
    )
    assert response.status_code == 403


def test_catalog_when_operator_reads_it_then_no_classification_evidence(world: World):
    # evidence holds exact counts from the raw data (sampled cells, identifiers found)
    mine = world.http.get("/v1/datasets/residents", headers=world.as_("operator")).json()
    assert all(c["evidence"] is None and c["proposed_tag"] is None for c in mine["columns"])
    theirs = world.http.get("/v1/datasets", headers=world.as_("steward")).json()[0]
    phone = next(c for c in theirs["columns"] if c["name"] == "phone")
    assert phone["evidence"]["entities"] == {"PHONE_NUMBER": phone["evidence"]["sampled"]}


def _upload(world: World, name: str, frame: pl.DataFrame) -> Any:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    metadata = {
        "name": name,
        "source": "test factory",
        "open_attribute": "unconditional",
        "grade": "general",
        "tags": TAGS,
        "privacy_unit": "resident_id",
    }
    return world.http.post(
        "/v1/datasets",
        headers=world.as_("steward"),
        files={"file": (f"{name}.parquet", buffer.getvalue())},
        data={"metadata": json.dumps(metadata)},
    )


def test_catalog_when_privacy_unit_partly_null_then_stewards_see_the_count_operators_do_not(
    world: World,
):
    def without_ids(younger_than: int) -> pl.DataFrame:
        missing = pl.col("age") < younger_than
        return residents().with_columns(
            pl.when(missing).then(None).otherwise(pl.col("resident_id")).alias("resident_id")
        )

    created = _upload(world, "partly_known", without_ids(24))  # ages 18-23: 60 of 600 rows
    assert created.status_code == 201 and created.json()["null_unit_rows"] == 60
    path = "/v1/datasets/partly_known"
    assert world.http.get(path, headers=world.as_("steward")).json()["null_unit_rows"] == 60
    assert world.http.get(path, headers=world.as_("auditor")).json()["null_unit_rows"] == 60
    assert world.http.get(path, headers=world.as_("operator")).json()["null_unit_rows"] is None
    listed = world.http.get("/v1/datasets", headers=world.as_("operator")).json()
    assert all(d["null_unit_rows"] is None for d in listed)

    refused = _upload(world, "mostly_unknown", without_ids(60))  # 420 of 600 rows
    assert refused.status_code == 422
    assert "'resident_id' is empty in 420 of 600 rows" in refused.json()["message"]
    missing = world.http.get("/v1/datasets/mostly_unknown", headers=world.as_("steward"))
    assert missing.status_code == 404


def test_auth_when_token_is_bad_then_401_and_failure_audited(world: World):
    response = world.http.get("/v1/datasets", headers={"Authorization": "Bearer sbx_wrong"})
    assert response.status_code == 401
    assert world.http.get("/v1/datasets").status_code == 401
    entries = world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
    failures = [e for e in entries if e["action"] == "auth.failure"]
    assert len(failures) == 2
    assert "sbx_wrong" not in str(failures)


def test_auth_when_one_address_fails_too_often_then_its_failures_get_429_unaudited(world: World):
    now = [0.0]
    world.http.app.state.sign_in_throttle = SignInThrottle(
        world.sandbox.db, 3, 60, clock=lambda: now[0]
    )
    bad = {"Authorization": "Bearer sbx_wrong"}
    assert [world.http.get("/v1/datasets", headers=bad).status_code for _ in range(3)] == [401] * 3
    refused = world.http.get("/v1/datasets", headers=bad)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.json()["error"] == "too_many_attempts"
    # a valid token from the same address (a shared proxy) still works
    assert world.http.get("/v1/datasets", headers=world.as_("auditor")).status_code == 200
    now[0] = 30.0
    assert world.http.get("/v1/datasets", headers=bad).status_code == 429
    entries = world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
    actions = [e["action"] for e in entries]
    assert actions.count("auth.failure") == 3  # refused tries are not audited again
    assert actions.count("auth.throttled") == 1
    now[0] = 61.0
    assert world.http.get("/v1/datasets", headers=bad).status_code == 401


def test_admin_when_rotating_a_stewards_token_then_old_one_dies_and_issue_is_audited(
    world: World,
):
    me = world.http.get("/v1/me", headers=world.as_("steward")).json()
    rotated = world.http.post(f"/v1/users/{me['id']}/tokens", headers=world.as_("admin"))
    assert rotated.status_code == 201, rotated.text
    assert world.http.get("/v1/me", headers=world.as_("steward")).status_code == 401
    fresh = {"Authorization": f"Bearer {rotated.json()['token']}"}
    assert world.http.get("/v1/me", headers=fresh).json()["id"] == me["id"]
    entries = world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
    issued = [e for e in entries if e["action"] == "token.issue"]
    assert [e["subject"] for e in issued] == [f"user:{me['id']}"]
    assert issued[0]["actor"] != f"user:{me['name']}"  # the admin issued it, and it says so
    assert rotated.json()["token"] not in json.dumps(entries)
