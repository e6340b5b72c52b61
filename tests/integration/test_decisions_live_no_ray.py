"""The operator's loop through the light client and the CLI, against a live server without Ray:
a steward returns an output for changes, the operator reads the decision and its reason.

Jobs awaiting review are put in the store (:func:`tests.factories.quarantined_job`); the
API and console sides are in ``test_decisions_no_ray.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from policies.errors import InvalidRequest, PolicyViolation
from sandbox.client import Client, ReviewDecision
from tests.factories import World, quarantined_job
from tests.integration.test_cli_listings import as_json, sandbox_cli

pytestmark = pytest.mark.slow

RETURN_REASON = "请按区县汇总后重新提交"  # "group by district and submit again"


@pytest.fixture(scope="module")
def live(ray_free_live: tuple[str, World]) -> Iterator[tuple[str, World]]:
    """No Ray: no job runs here; jobs awaiting review are put in the store."""
    yield ray_free_live


def test_client_when_steward_returns_then_operator_reads_a_typed_decision(live):
    url, world = live
    job_id = quarantined_job(world)
    with Client(url, world.operator) as operator:
        job = operator.job(job_id)
        assert job.decision is None  # awaiting review: nothing decided yet
        assert "decision" not in job._repr_html_()
    with Client(url, world.steward) as steward:
        returned = steward.review(job_id, "return", RETURN_REASON)
        assert returned.status == "returned"
    with Client(url, world.operator) as operator:
        job = operator.job(job_id)
        decision = job.decision
        assert isinstance(decision, ReviewDecision)
        assert (decision.state, decision.reason, decision.organisation) == (
            "return",
            RETURN_REASON,
            "bureau",
        )
        assert isinstance(decision.decided_at, dt.datetime)
        assert str(decision) == f"returned for changes by bureau: {RETURN_REASON}"
        shown = job._repr_html_()
        assert RETURN_REASON in shown and "returned for changes" in shown and "bureau" in shown
        # the job is final: waiting ends at once, with the steward's reason
        with pytest.raises(PolicyViolation, match=RETURN_REASON):
            job.wait_released(timeout=5, poll=0.1)
        with pytest.raises(PolicyViolation, match="returned and has no result"):
            job.result()


def test_client_when_review_reason_is_one_character_then_refused_naming_the_minimum(live):
    url, world = live
    job_id = quarantined_job(world)
    with Client(url, world.steward) as steward:
        with pytest.raises(InvalidRequest, match="at least 2 characters"):
            steward.review(job_id, "return", "同")
        assert steward.review(job_id, "approve", "同意").status == "released"
    with Client(url, world.operator) as operator:
        decision = operator.job(job_id).decision
        assert decision is not None and (decision.state, decision.reason) == ("approve", "同意")


def test_cli_when_steward_returns_then_operator_reads_the_comment_in_sandbox_jobs(live):
    _, world = live
    job_id = quarantined_job(world)
    refused = sandbox_cli(live, "steward", "review", "return", str(job_id), "--reason", "同")
    assert refused.exit_code == 1 and "at least 2 characters" in refused.stderr
    result = sandbox_cli(
        live, "steward", "review", "return", str(job_id), "--reason", RETURN_REASON
    )
    assert result.exit_code == 0, result.output
    assert f"job {job_id}: returned" in result.stdout

    shown = sandbox_cli(live, "operator", "jobs", str(job_id))
    assert shown.exit_code == 0, shown.output
    for expected in ("returned", "decided by", "bureau", RETURN_REASON):
        assert expected in shown.stdout, expected
    data = as_json(live, "operator", "jobs", str(job_id))
    assert data["decision"]["state"] == "return" and data["decision"]["reason"] == RETURN_REASON

    listed = sandbox_cli(live, "operator", "jobs")
    assert listed.exit_code == 0 and "return (bureau)" in listed.stdout
    [entry] = [j for j in as_json(live, "operator", "jobs") if j["id"] == job_id]
    assert entry["decision"]["reason"] == RETURN_REASON
    # another firm's operator learns nothing of it
    other = sandbox_cli(live, "other_operator", "jobs", str(job_id))
    assert other.exit_code == 1 and RETURN_REASON not in other.output


def test_cli_when_job_id_given_with_list_options_then_refused(live):
    result = sandbox_cli(live, "operator", "jobs", "1", "--watch")
    assert result.exit_code != 0 and "give no job id" in result.output
