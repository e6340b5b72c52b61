"""The data-use commitment of art. 34: the steward requires it, the operator firm accepts it.

Through the API, the light client and the CLI against a real server without Ray (no job
runs: estimates show whether a job on the conditional dataset would be accepted).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from policies.errors import Conflict, NotFound, PolicyViolation
from sandbox.client import Client
from tests.factories import PUBLIC_KEYS, TAGS, World, aggregate_spec, auth, residents
from tests.integration.test_cli_listings import sandbox_cli

pytestmark = pytest.mark.slow

PURPOSE = "统计年度报告 for the annual service report"


@pytest.fixture(scope="module")
def live(ray_free_live: tuple[str, World]) -> Iterator[tuple[str, World]]:
    """No Ray: no test here runs a job."""
    yield ray_free_live


def _grant_body(world: World, **fields: Any) -> dict[str, Any]:
    return {
        "org_id": world.firm_id,
        "datasets": ["conditional_residents"],
        "purpose": PURPOSE,
        "kinds": ["aggregate"],
        "epsilon": 2.0,
        "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        **fields,
    }


@pytest.fixture(scope="module")
def conditional(live: tuple[str, World]) -> int:
    """A conditionally open dataset and a grant on it requiring the firm's commitment."""
    _, world = live
    buffer = io.BytesIO()
    residents().write_parquet(buffer)
    metadata = {
        "name": "conditional_residents",
        "source": "test factory",
        "open_attribute": "conditional",
        "grade": "general",
        "tags": TAGS,
        "privacy_unit": "resident_id",
        "public_keys": PUBLIC_KEYS,
    }
    response = world.http.post(
        "/v1/datasets",
        headers=world.as_("steward"),
        files={"file": ("r.parquet", buffer.getvalue())},
        data={"metadata": json.dumps(metadata)},
    )
    assert response.status_code == 201, response.text
    response = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json=_grant_body(world, commitment_required=True),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _estimate(world: World, grant_id: int) -> Any:
    spec = aggregate_spec(dataset="conditional_residents")
    return world.http.post(
        "/v1/jobs/estimate",
        headers=world.as_("operator"),
        json={"grant_id": grant_id, "spec": spec},
    )


def _accepted_entries(world: World, grant_id: int) -> list[dict[str, Any]]:
    entries = world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
    return [
        e
        for e in entries
        if e["action"] == "grant.commitment_accepted" and e["subject"] == f"grant:{grant_id}"
    ]


def test_grant_when_conditional_dataset_without_commitment_required_then_403(live, conditional):
    _, world = live
    response = world.http.post("/v1/grants", headers=world.as_("steward"), json=_grant_body(world))
    assert response.status_code == 403
    assert "commitment_required" in response.json()["message"]


def test_commitment_when_required_then_jobs_refused_until_the_firm_accepts_it(live, conditional):
    url, world = live
    refused = _estimate(world, conditional)
    assert refused.status_code == 403
    assert f"sandbox grants accept-commitment {conditional}" in refused.json()["message"]
    submitted = world.http.post(
        "/v1/jobs",
        headers=world.as_("operator"),
        json={"grant_id": conditional, "spec": aggregate_spec(dataset="conditional_residents")},
    )
    assert submitted.status_code == 403  # refused before any budget is touched
    with Client(url, world.operator) as operator:
        grant = operator.grant(conditional)
        assert grant["commitment_required"] and not grant["commitment_accepted"]
        assert "第三十四条" in grant["commitment_text"] and PURPOSE in grant["commitment_text"]
        view = operator.budget()
        row = view.to_polars().filter(grant_id=conditional).row(0, named=True)
        assert row["commitment"] == "required, not accepted"
        assert "第三十四条" in view._repr_html_()
        assert f"client.accept_commitment({conditional})" in view._repr_html_()
        with pytest.raises(PolicyViolation, match="accept-commitment"):
            operator.estimate(conditional, aggregate_spec(dataset="conditional_residents"))

    accepted = sandbox_cli(
        live, "operator", "grants", "accept-commitment", str(conditional), "--yes"
    )
    assert accepted.exit_code == 0, accepted.output
    assert "第三十四条" in accepted.stdout and "commitment accepted" in accepted.stdout

    assert _estimate(world, conditional).status_code == 200
    me = world.http.get("/v1/me", headers=world.as_("operator")).json()
    with Client(url, world.operator) as operator:
        again = operator.accept_commitment(conditional)  # idempotent
        assert again["commitment_accepted"] and again["commitment_accepted_by"] == me["id"]
        row = operator.budget().to_polars().filter(grant_id=conditional).row(0, named=True)
        assert row["commitment"].startswith("accepted 20")
    [entry] = _accepted_entries(world, conditional)  # audited once
    assert entry["details"]["org"] == "firm" and entry["details"]["user"] == "operator"


def test_accept_commitment_when_not_the_grants_operator_firm_then_refused(live, conditional):
    url, world = live
    with Client(url, world.other_operator) as other, pytest.raises(NotFound):
        other.accept_commitment(conditional)
    with Client(url, world.steward) as steward, pytest.raises(PolicyViolation):
        steward.accept_commitment(conditional)
    refused = world.http.post(f"/v1/grants/{conditional}/commitment", headers=auth("nope"))
    assert refused.status_code == 401


def test_accept_commitment_when_none_required_then_409(live):
    url, world = live
    with Client(url, world.operator) as operator, pytest.raises(Conflict, match=r"art\. 34"):
        operator.accept_commitment(world.grant_id)


def test_cli_accept_commitment_when_not_confirmed_then_nothing_accepted(live):
    url, world = live
    response = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={**_grant_body(world), "datasets": ["residents"], "commitment_required": True},
    )
    assert response.status_code == 201, response.text
    grant_id = response.json()["id"]
    env = {"SANDBOX_URL": url, "SANDBOX_TOKEN": world.operator, "COLUMNS": "200"}
    from typer.testing import CliRunner

    from sandbox.cli.main import app

    declined = CliRunner().invoke(
        app, ["grants", "accept-commitment", str(grant_id)], env=env, input="n\n"
    )
    assert declined.exit_code != 0
    assert not world.http.get(f"/v1/grants/{grant_id}", headers=world.as_("operator")).json()[
        "commitment_accepted"
    ]


def test_accept_commitment_when_the_grant_is_suspended_then_403_and_nothing_recorded(
    live, conditional
):
    _, world = live
    created = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json=_grant_body(world, commitment_required=True),
    )
    assert created.status_code == 201, created.text
    grant_id = int(created.json()["id"])
    suspended = world.http.post(
        f"/v1/grants/{grant_id}/suspend", headers=world.as_("steward"), json={"reason": "核查中"}
    )
    assert suspended.status_code == 200, suspended.text
    refused = world.http.post(f"/v1/grants/{grant_id}/commitment", headers=world.as_("operator"))
    assert refused.status_code == 403, refused.text
    assert not _accepted_entries(world, grant_id)
    grant = world.http.get(f"/v1/grants/{grant_id}", headers=world.as_("operator")).json()
    assert not grant["commitment_accepted"]
