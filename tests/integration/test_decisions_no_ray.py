"""The operator's loop without Ray: review decisions reach the operator, return for changes,
and reason minimums that fit Chinese, through the API and the console.

A job awaiting review is put in the store with its output in quarantine
(:func:`tests.factories.quarantined_job`); the client and the CLI are in
``test_decisions_live_no_ray.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sandbox.jobs.answer_cache import ANSWER_OF
from sandbox.service import Sandbox
from sandbox.store.models import AuditEntry, Job
from tests.factories import World, auth, build_world, quarantined_job
from tests.integration.test_console import _client, _sign_in

RETURN_REASON = "请按区县汇总后重新提交"  # "group by district and submit again"


@pytest.fixture
def service(
    ray_free_service: tuple[TestClient, Sandbox],
) -> Iterator[tuple[TestClient, Sandbox]]:
    """No Ray: no job runs here; jobs awaiting review are put in the store."""
    yield ray_free_service


def _review(world: World, job_id: int, decision: str, reason: str, who: str = "steward") -> Any:
    return world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_(who),
        json={"decision": decision, "reason": reason},
    )


def _says(response: Any) -> str:
    """What a refusal tells the caller: its message and, for a malformed body, each problem."""
    body = response.json()
    return " ".join([body["message"], *(p["msg"] for p in body.get("problems", []))])


def _job(world: World, job_id: int, who: str = "operator") -> dict[str, Any]:
    response = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_(who))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _audited(world: World, action: str, job_id: int) -> list[dict[str, Any]]:
    with world.sandbox.db.session() as session:
        return [
            dict(e.details)
            for e in session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == action, AuditEntry.subject == f"job:{job_id}"
                )
            )
        ]


def _second_steward(world: World) -> str:
    """Another steward of the bureau (important data needs two)."""
    me = world.http.get("/v1/me", headers=world.as_("steward")).json()
    response = world.http.post(
        "/v1/users",
        headers=auth(world.admin),
        json={"name": "steward2", "role": "steward", "org_id": me["org_id"]},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def test_review_when_steward_returns_then_closed_unreleased_audited_and_operator_reads_why(
    world: World,
):
    job_id = quarantined_job(world, epsilon=0.5)
    spent = world.grant()["epsilon_spent"]
    assert spent == pytest.approx(0.5)
    assert _job(world, job_id)["decision"] is None  # nothing decided yet

    response = _review(world, job_id, "return", RETURN_REASON)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "returned"

    seen = _job(world, job_id)  # the operator's own view
    assert seen["status"] == "returned"
    decision = seen["decision"]
    assert decision["state"] == "return" and decision["reason"] == RETURN_REASON
    assert decision["organisation"] == "bureau"  # the bureau decides, not a named person
    assert "steward" not in str(decision)
    decided_at = dt.datetime.fromisoformat(decision["decided_at"])
    assert abs(dt.datetime.now(dt.UTC) - decided_at.replace(tzinfo=dt.UTC)) < dt.timedelta(
        minutes=5
    )
    listed = world.http.get("/v1/jobs", headers=world.as_("operator")).json()
    assert [j["decision"] for j in listed if j["id"] == job_id] == [decision]
    assert _job(world, job_id, "auditor")["decision"] == decision
    # the output never leaves, not even to the stewards any more; the charge stays spent
    for who in ("operator", "steward"):
        refused = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_(who))
        assert refused.status_code == 403, who
    assert (
        world.http.get(f"/v1/jobs/{job_id}/manifest", headers=world.as_("operator")).status_code
        == 403
    )
    assert world.grant()["epsilon_spent"] == pytest.approx(spent)
    # audited like a rejection, with the comment
    [entry] = _audited(world, "review.return", job_id)
    assert entry["reason"] == RETURN_REASON
    # closed for good: no second decision
    again = _review(world, job_id, "approve", "同意")
    assert again.status_code == 409 and "returned" in again.json()["message"]


def test_job_when_another_firm_asks_for_a_decided_job_then_404(world: World):
    job_id = quarantined_job(world)
    assert _review(world, job_id, "return", RETURN_REASON).status_code == 200
    other = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("other_operator"))
    assert other.status_code == 404  # its decision no more than its existence
    listed = world.http.get("/v1/jobs", headers=world.as_("other_operator")).json()
    assert RETURN_REASON not in str(listed)


@pytest.mark.parametrize(
    ("decision", "status"),
    [
        ("approve", "released"),  # the operator reads why it was released
        ("reject", "rejected"),  # and why it was refused
    ],
)
def test_review_when_decided_then_operator_reads_the_decision_with_its_reason(
    world: World, decision: str, status: str
):
    job_id = quarantined_job(world)
    assert (
        _review(world, job_id, decision, "同意" if decision == "approve" else "不同意").status_code
        == 200
    )
    seen = _job(world, job_id)
    assert seen["status"] == status
    assert seen["decision"]["state"] == decision
    assert seen["decision"]["reason"] == ("同意" if decision == "approve" else "不同意")


def _copy(world: World, job_id: int, **fields: Any) -> int:
    """A new row of ``job_id``'s job (its spec, grant and firm) with ``fields`` changed."""
    with world.sandbox.db.session() as session:
        source = session.get(Job, job_id)
        assert source is not None
        job = Job(
            grant_id=source.grant_id,
            org_id=source.org_id,
            submitted_by=source.submitted_by,
            kind=source.kind,
            spec=source.spec,
            spec_hash=source.spec_hash,
            epsilon=0,
            delta=0,
            **fields,
        )
        session.add(job)
        session.flush()
        return int(job.id)


def test_job_when_a_reissued_answer_then_it_shows_the_decision_that_released_it(world: World):
    source = quarantined_job(world)
    assert _review(world, source, "approve", "同意").status_code == 200
    reissued = _copy(world, source, status="released", report={ANSWER_OF: source})
    decision = _job(world, reissued)["decision"]
    assert (decision["state"], decision["reason"]) == ("approve", "同意")


def test_job_when_failed_then_no_decision(world: World):
    failed = _copy(world, quarantined_job(world), status="failed", error="the run failed")
    assert _job(world, failed)["decision"] is None  # no steward decided on it


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("同", 422),  # one character tells the operator nothing
        ("  同  ", 422),  # nor does one character padded
        ("同意", 200),  # "agreed": two characters will do
    ],
)
def test_review_when_reason_length_then_two_characters_needed(world: World, reason: str, code: int):
    job_id = quarantined_job(world)
    response = _review(world, job_id, "approve", reason)
    assert response.status_code == code, response.text
    if code == 422:
        assert "at least 2 characters" in _says(response)
        assert _job(world, job_id)["status"] == "awaiting_review"
    else:
        assert response.json()["status"] == "released"


@pytest.fixture
def important(service: tuple[TestClient, Sandbox]) -> World:
    http, sandbox = service
    return build_world(http, sandbox, grade="important")


def test_review_when_important_data_approved_once_then_returned_by_another_steward_then_closed(
    important: World,
):
    world = important
    job_id = quarantined_job(world)
    first = _review(world, job_id, "approve", "同意")
    assert first.status_code == 200 and first.json()["status"] == "awaiting_review"
    # one approval of two is no decision: the operator is shown none yet
    assert _job(world, job_id)["decision"] is None
    second = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=auth(_second_steward(world)),
        json={"decision": "return", "reason": RETURN_REASON},
    )
    assert second.status_code == 200 and second.json()["status"] == "returned"
    decision = _job(world, job_id)["decision"]
    assert (decision["state"], decision["reason"]) == ("return", RETURN_REASON)


def test_review_when_important_data_returned_by_the_first_steward_then_closed_at_once(
    important: World,
):
    world = important
    job_id = quarantined_job(world)
    response = _review(world, job_id, "return", RETURN_REASON)
    assert response.status_code == 200 and response.json()["status"] == "returned"


def test_review_when_decision_is_not_one_of_three_then_422_naming_them(world: World):
    job_id = quarantined_job(world)
    response = _review(world, job_id, "postpone", "稍后再议")
    assert response.status_code == 422
    assert "'return'" in _says(response) and "postpone" not in response.text


@pytest.mark.parametrize(
    ("reason", "code"),
    [("同", 422), ("同意", 200)],  # one character refused, two accepted
)
def test_grant_and_budget_period_when_reason_length_then_two_characters_needed(
    world: World, reason: str, code: int
):
    suspended = world.http.post(
        f"/v1/grants/{world.grant_id}/suspend",
        headers=world.as_("steward"),
        json={"reason": reason},
    )
    assert suspended.status_code == code, suspended.text
    period = world.http.post(
        "/v1/budgets/periods",
        headers=world.as_("steward"),
        json={"org_id": world.firm_id, "dataset": "residents", "reason": reason},
    )
    assert period.status_code in ((code,) if code == 422 else (200, 201)), period.text


@pytest.mark.parametrize(
    ("purpose", "code"),
    [("科", 403), ("科研", 201)],  # art. 34: a purpose of one character says nothing
)
def test_grant_when_conditional_dataset_and_purpose_length_then_two_characters_needed(
    service: tuple[TestClient, Sandbox], purpose: str, code: int
):
    http, sandbox = service
    world = build_world(http, sandbox, open_attribute="conditional")
    response = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={
            "org_id": world.firm_id,
            "datasets": ["residents"],
            "purpose": purpose,
            "kinds": ["aggregate"],
            "epsilon": 1.0,
            "commitment_required": True,
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == code, response.text
    if code == 403:
        assert "at least 2 characters" in _says(response)


@pytest.mark.parametrize(
    ("reason", "code"),
    [("撤", 422), ("撤回", 200)],  # "withdrawn": two characters will do
)
def test_withdraw_when_reason_length_then_two_characters_needed(
    world: World, reason: str, code: int
):
    response = world.http.post(
        "/v1/datasets/residents/withdraw", headers=world.as_("steward"), json={"reason": reason}
    )
    assert response.status_code == code, response.text
    if code == 422:
        assert "at least 2 characters" in _says(response)


def _console_review(world: World, job_id: int, decision: str, reason: str) -> Any:
    browser = _client(world)
    csrf = _sign_in(browser, world.steward)
    return browser, browser.post(
        f"/console/jobs/{job_id}/review",
        data={"csrf": csrf, "decision": decision, "reason": reason},
    )


def test_console_when_steward_returns_then_redirect_notice_in_chinese_and_english(world: World):
    job_id = quarantined_job(world)
    browser, response = _console_review(world, job_id, "return", RETURN_REASON)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/console/jobs/{job_id}?notice=returned"
    page = unescape(browser.get(f"{response.headers['location']}&lang=zh_CN").text)
    assert "已退回修改；运营机构可看到您的意见。" in page  # Chinese
    assert RETURN_REASON in page  # the comment is on the job's decisions
    english = unescape(browser.get(f"{response.headers['location']}&lang=en").text)
    assert "Returned for changes; the operator sees your comment." in english
    assert _job(world, job_id)["decision"]["reason"] == RETURN_REASON
    [entry] = _audited(world, "review.return", job_id)
    assert entry["reason"] == RETURN_REASON


@pytest.mark.parametrize(
    ("reason", "closed"),
    [("同", False), ("同意", True)],  # the console applies the API's minimum
)
def test_console_when_reason_length_then_two_characters_needed(
    world: World, reason: str, closed: bool
):
    job_id = quarantined_job(world)
    _, response = _console_review(world, job_id, "reject", reason)
    assert response.status_code == (303 if closed else 422), response.text
    assert _job(world, job_id)["status"] == ("rejected" if closed else "awaiting_review")
