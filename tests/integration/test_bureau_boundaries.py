"""Role boundaries at the edges (issue 12): a bureau acts on its own datasets only, only the
grantee firm downloads, admins read no run reports, operators see no exact facts of the data.

Jobs run in this process (no Ray): the rules under test sit in front of the runner.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobs.runner import Outcome, Task, execute
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.store.models import Dataset, Job
from sandbox.web.app import create_app
from tests.factories import PUBLIC_KEYS, TAGS, World, auth, build_world, residents, wait_status

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_ACTIONS = ("suspend", "reinstate", "terminate")


class InProcessRunner:
    """Evaluates tasks in this process."""

    def run(self, task: Task) -> Outcome:
        return execute(task)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/s.db")
    sandbox = Sandbox(settings, runner=InProcessRunner())
    with TestClient(create_app(sandbox)) as http:
        yield build_world(http, sandbox)


def _post(world: World, path: str, who: str, body: dict[str, Any]) -> Any:
    return world.http.post(path, headers=world.as_(who), json=body)


def _rival(world: World) -> str:
    """A second bureau with its own steward and dataset; returns the steward's token."""
    org = _post(world, "/v1/orgs", "admin", {"name": "rival bureau", "kind": "bureau"}).json()
    user = _post(
        world, "/v1/users", "admin", {"name": "rival", "role": "steward", "org_id": org["id"]}
    )
    assert user.status_code == 201, user.text
    token = str(user.json()["token"])
    buffer = io.BytesIO()
    residents(200).write_parquet(buffer)
    meta = {
        "name": "rival_residents",
        "source": "rival bureau",
        "open_attribute": "unconditional",
        "grade": "general",
        "tags": TAGS,
        "privacy_unit": "resident_id",
        "public_keys": PUBLIC_KEYS,
    }
    response = world.http.post(
        "/v1/datasets",
        headers=auth(token),
        files={"file": ("r.parquet", buffer.getvalue())},
        data={"metadata": json.dumps(meta)},
    )
    assert response.status_code == 201, response.text
    world.rival = token  # type: ignore[attr-defined]
    return token


def _grant_body(world: World, datasets: list[str]) -> dict[str, Any]:
    return {
        "org_id": world.firm_id,
        "datasets": datasets,
        "purpose": "statistics for a report",
        "kinds": ["aggregate"],
        "epsilon": 1.0,
        "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat(),
    }


def _awaiting(world: World) -> int:
    response = world.submit()
    assert response.status_code == 202, response.text
    job_id = int(response.json()["id"])
    wait_status(world, job_id, {"awaiting_review"})
    return job_id


def _released(world: World) -> int:
    job_id = _awaiting(world)
    review = _post(
        world,
        f"/v1/jobs/{job_id}/review",
        "steward",
        {"decision": "approve", "reason": "aggregates, checks pass"},
    )
    assert review.status_code == 200, review.text
    return job_id


def _refused_by_bureau(response: Any) -> None:
    assert response.status_code == 403, response.text
    message = response.json()["message"]
    assert "another bureau" in message and "ask a steward of that bureau" in message


# --- a bureau acts on its own datasets only (API) --------------------------------------------


@pytest.mark.parametrize("action", _ACTIONS)
def test_grant_change_when_steward_of_another_bureau_then_403_and_state_kept(
    world: World, action: str
):
    _rival(world)
    if action == "reinstate":  # reinstating needs a suspended grant
        suspended = _post(
            world, f"/v1/grants/{world.grant_id}/suspend", "steward", {"reason": "a pause"}
        )
        assert suspended.status_code == 200
    before = world.grant()["state"]
    response = _post(
        world, f"/v1/grants/{world.grant_id}/{action}", "rival", {"reason": "not my data"}
    )
    _refused_by_bureau(response)
    assert world.grant()["state"] == before


@pytest.mark.parametrize(
    ("who", "datasets"),
    [
        ("rival", ["residents"]),  # the other bureau's dataset only
        ("rival", ["rival_residents", "residents"]),  # a grant spanning two bureaus
        ("steward", ["residents", "rival_residents"]),  # the same, by the other side
    ],
)
def test_grant_create_when_a_dataset_is_another_bureaus_then_403_and_nothing_created(
    world: World, who: str, datasets: list[str]
):
    _rival(world)
    before = len(world.http.get("/v1/grants", headers=world.as_("auditor")).json())
    _refused_by_bureau(_post(world, "/v1/grants", who, _grant_body(world, datasets)))
    assert len(world.http.get("/v1/grants", headers=world.as_("auditor")).json()) == before


def test_budget_period_when_steward_of_another_bureau_then_403_and_no_period(world: World):
    _rival(world)
    body = {"org_id": world.firm_id, "dataset": "residents", "reason": "a new budget year"}
    _refused_by_bureau(_post(world, "/v1/budgets/periods", "rival", body))
    [budget] = [b for b in world.grant()["budgets"] if b["dataset"] == "residents"]
    assert budget["period"] == 1
    own = _post(world, "/v1/budgets/periods", "steward", body)
    assert own.status_code == 201, own.text


def test_grant_create_when_steward_grants_own_bureaus_dataset_then_201(world: World):
    _rival(world)
    response = _post(world, "/v1/grants", "rival", _grant_body(world, ["rival_residents"]))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_review_when_steward_of_another_bureau_then_403_and_job_still_awaits(
    world: World, decision: str
):
    _rival(world)
    job_id = _awaiting(world)
    response = _post(
        world, f"/v1/jobs/{job_id}/review", "rival", {"decision": decision, "reason": "looks ok"}
    )
    _refused_by_bureau(response)
    assert world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("steward")).json()["status"] == (
        "awaiting_review"
    )


def test_output_when_steward_of_another_bureau_reads_quarantine_then_403(world: World):
    _rival(world)
    job_id = _awaiting(world)
    _refused_by_bureau(world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("rival")))
    owner = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("steward"))
    assert owner.status_code == 200


# --- only the grantee firm downloads; admins read no run reports ----------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("operator", 200),  # the grantee firm
        ("other_operator", 404),  # another firm does not learn the job exists
        ("auditor", 403),  # auditors never read outputs
        ("admin", 403),  # nor do platform admins
        ("rival", 403),  # nor a steward of another bureau
    ],
)
def test_download_when_released_then_only_the_grantee_firm_gets_it(
    world: World, who: str, status: int
):
    _rival(world)
    job_id = _released(world)
    response = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_(who))
    assert response.status_code == status, response.text
    if status == 403:
        assert "grantee" in response.json()["message"] or "bureau" in response.json()["message"]


def test_job_views_when_admin_reads_then_no_run_report_but_auditor_gets_one(world: World):
    job_id = _awaiting(world)
    for path in (f"/v1/jobs/{job_id}", "/v1/jobs"):
        admin = world.http.get(path, headers=world.as_("admin")).json()
        auditor = world.http.get(path, headers=world.as_("auditor")).json()
        admin_job = admin if isinstance(admin, dict) else admin[0]
        auditor_job = auditor if isinstance(auditor, dict) else auditor[0]
        assert admin_job["report"] is None, path
        assert auditor_job["report"] and "checks" in auditor_job["report"], path
        assert admin_job["status"] == "awaiting_review"  # the rest of the view is kept


# --- the same boundaries in the console ------------------------------------------------------


def _browser(world: World, token: str) -> tuple[TestClient, str]:
    browser = TestClient(world.http.app, follow_redirects=False, cookies={"console_lang": "en"})
    form = browser.get("/console/login")
    found = _CSRF.search(form.text)
    assert found
    signed = browser.post("/console/login", data={"token": token, "csrf": found[1]})
    assert signed.status_code == 303, signed.text
    queue = browser.get("/console/queue")
    found = _CSRF.search(queue.text)
    assert found
    return browser, found[1]


@pytest.mark.parametrize("action", _ACTIONS)
def test_console_grant_change_when_steward_of_another_bureau_then_403_and_no_form(
    world: World, action: str
):
    browser, csrf = _browser(world, _rival(world))
    page = browser.get("/console/grants").text
    assert f'action="/console/grants/{world.grant_id}/' not in page  # no form for it
    assert f"/console/grants/{world.grant_id}/suspend" not in page
    before = world.grant()["state"]
    response = browser.post(
        f"/console/grants/{world.grant_id}/{action}",
        data={"csrf": csrf, "reason": "not my data"},
    )
    assert response.status_code == 403
    assert "another bureau" in response.text
    assert world.grant()["state"] == before


def test_console_grant_create_when_dataset_of_another_bureau_then_refused_and_not_offered(
    world: World,
):
    browser, csrf = _browser(world, _rival(world))
    page = browser.get("/console/grants").text
    assert 'value="rival_residents"' in page and 'value="residents"' not in page
    response = browser.post(
        "/console/grants",
        data={
            "csrf": csrf,
            "org_id": str(world.firm_id),
            "purpose": "statistics for a report",
            "epsilon": "1",
            "expires": (dt.date.today() + dt.timedelta(days=3)).isoformat(),
            "datasets": ["residents"],
            "kinds": ["aggregate"],
        },
    )
    assert response.status_code == 403
    assert "another bureau" in response.text


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_console_review_when_steward_of_another_bureau_then_403_and_no_form(
    world: World, decision: str
):
    browser, csrf = _browser(world, _rival(world))
    job_id = _awaiting(world)
    page = browser.get(f"/console/jobs/{job_id}?lang=en").text
    assert 'id="approve"' not in page and "bureau that owns" in page
    response = browser.post(
        f"/console/jobs/{job_id}/review",
        data={"csrf": csrf, "decision": decision, "reason": "looks fine"},
    )
    assert response.status_code == 403
    assert "another bureau" in response.text
    with world.sandbox.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "awaiting_review"
    owner, _ = _browser(world, world.steward)
    assert 'id="approve"' in owner.get(f"/console/jobs/{job_id}").text


# --- operators see no exact facts of the stored data ------------------------------------------


def test_dataset_view_when_operator_or_admin_then_no_exact_count_and_no_plain_hash(world: World):
    with world.sandbox.db.session() as session:
        stored = session.query(Dataset).one()
        exact, sha256, public = stored.row_count, stored.sha256, stored.public_row_count
    for who in ("steward", "auditor"):
        view = world.http.get("/v1/datasets/residents", headers=world.as_(who)).json()
        assert view["row_count"] == exact == 600 and view["sha256"] == sha256
    for who in ("operator", "admin"):
        for view in (
            world.http.get("/v1/datasets/residents", headers=world.as_(who)).json(),
            world.http.get("/v1/datasets", headers=world.as_(who)).json()[0],
        ):
            assert view["row_count"] is None and view["sha256"] is None, who
            assert sha256 not in json.dumps(view)
            assert view["public_row_count"] == public  # drawn once, the same every time
            assert view["digest"] != sha256 and len(view["digest"]) == 64


def test_manifest_when_operator_receives_it_then_inputs_carry_a_keyed_digest_only(world: World):
    job_id = _released(world)
    with world.sandbox.db.session() as session:
        stored = session.query(Dataset).one()
        sha256, exact, public = stored.sha256, stored.row_count, stored.public_row_count
    manifest = world.http.get(f"/v1/jobs/{job_id}/manifest", headers=world.as_("operator"))
    [entry] = manifest.json()["manifest"]["datasets"]
    assert sha256 not in json.dumps(manifest.json())
    assert set(entry) == {"name", "digest", "digest_algorithm", "public_rows", "grade"}
    assert entry["public_rows"] == public
    assert exact not in entry.values() or exact == public  # no exact count unless it came out so


def test_manifest_inputs_when_auditor_verifies_then_match_and_tampering_is_seen(world: World):
    job_id = _released(world)
    for who in ("operator", "admin"):
        refused = world.http.get(f"/v1/manifests/{job_id}/inputs", headers=world.as_(who))
        assert refused.status_code == 403, who
    [check] = world.http.get(f"/v1/manifests/{job_id}/inputs", headers=world.as_("auditor")).json()
    assert check == {
        "name": "residents",
        "digest": world.http.get(
            f"/v1/jobs/{job_id}/manifest", headers=world.as_("auditor")
        ).json()["manifest"]["datasets"][0]["digest"],
        "files_match_catalog": True,
        "matches": True,
    }
    with world.sandbox.db.session() as session:
        folder = Path(session.query(Dataset).one().path)
    part = sorted(folder.glob("part-*.parquet"))[0]
    part.chmod(0o640)
    with part.open("ab") as handle:
        handle.write(b"\0")
    [after] = world.http.get(f"/v1/manifests/{job_id}/inputs", headers=world.as_("steward")).json()
    assert after["files_match_catalog"] is False and after["matches"] is False
    missing = world.http.get("/v1/manifests/999/inputs", headers=world.as_("auditor"))
    assert missing.status_code == 404
