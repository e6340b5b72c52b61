"""The client over HTTP (a fake service): configuration, grants, budget, errors, display."""

from __future__ import annotations

import httpx
import polars as pl
import pytest

from policies import errors as E
from policies.errors import (
    BudgetExhausted,
    InternalError,
    InvalidRequest,
    NotFound,
    PolicyViolation,
    TooManyAttempts,
    Unauthenticated,
)
from sandbox.client import Budget, Client, Datasets, Estimate, count, mean
from tests.unit.sandbox.client._fake import FakeService, client, grant


def test_client_when_env_vars_set_then_used(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SANDBOX_URL", "http://example.test/")
    monkeypatch.setenv("SANDBOX_TOKEN", "sbx_x")
    with Client() as c:
        assert c.url == "http://example.test"


def test_client_when_token_missing_then_error_names_the_variable(monkeypatch):
    monkeypatch.setenv("SANDBOX_URL", "http://example.test")
    with pytest.raises(InvalidRequest, match="no SANDBOX_TOKEN: pass Client"):
        Client()


def test_client_when_service_unreachable_then_error_says_check_the_url():
    with (
        Client("http://127.0.0.1:9", "sbx_x", timeout=2) as c,
        pytest.raises(InternalError, match="check SANDBOX_URL"),
    ):
        c.me()


def test_datasets_when_property_or_call_then_same_catalog():
    with client() as c:
        assert isinstance(c.datasets, Datasets)
        assert c.datasets().names == c.datasets.names == ["residents"]
        assert c.datasets["residents"]["public_row_count"] == 600  # also a metadata mapping
        assert c.datasets["residents"].row_count == 600  # the public count, for an operator
        assert [d["name"] for d in c.datasets()] == ["residents"]  # the README's old form
        with pytest.raises(NotFound, match="available: residents"):
            c.datasets["nope"]
        with pytest.raises(NotFound, match=r"client\.datasets lists the catalog"):
            c.dataset("nope")


def test_submit_when_exactly_one_active_grant_covers_then_it_is_used():
    service = FakeService(grants=[grant(7), grant(8, state="suspended"), grant(9, datasets=("x",))])
    with client(service) as c:
        q = c.dataset("residents").query().group_by("city").agg(count()).epsilon(0.5)
        job = q.submit(purpose="people by city")
    path, body = service.posted[-1]
    assert path == "/v1/jobs" and body["grant_id"] == 7 and body["purpose"] == "people by city"
    assert body["spec"] == q.to_spec() and job.id == 1


@pytest.mark.parametrize(
    ("grants", "error", "message"),
    [
        ([grant(7), grant(8)], InvalidRequest, "grants 7, 8 all cover .* pass grant=<id>"),
        ([grant(8, state="terminated")], PolicyViolation, "no active grant covers"),
        ([], PolicyViolation, "ask the data bureau"),
    ],
)
def test_submit_when_grant_is_ambiguous_or_missing_then_error_says_what_to_do(
    grants, error, message
):
    with client(FakeService(grants=grants)) as c:
        q = c.dataset("residents").query().agg(count()).epsilon(0.5)
        with pytest.raises(error, match=message):
            q.submit(purpose="x")
        if len(grants) > 1:
            assert q.submit(purpose="x", grant=8).id == 1


def test_submit_when_service_refuses_budget_then_budget_exhausted_with_its_message():
    with client() as c:
        q = c.dataset("residents").query().agg(count()).epsilon(3.0)
        with pytest.raises(BudgetExhausted, match="lower it"):
            q.submit(purpose="x")


def test_estimate_when_asked_then_mapping_with_a_table():
    with client() as c:
        est = c.dataset("residents").query().agg(count(), mean("income", 0, 1e5))
        est = est.epsilon(0.5).estimate()
    assert isinstance(est, Estimate) and est.epsilon == 0.5 and est.fits
    assert est["aggregates"][0]["ci_half_width"] == 4.2  # the old dict form still works
    assert est.to_polars()["name"].to_list() == ["count", "mean"]
    assert "the grant can pay for it" in est._repr_html_()


def test_estimate_when_expected_group_size_given_then_sent_and_shown_with_warnings():
    service = FakeService()
    with client(service) as c:
        query = c.dataset("residents").query().agg(count()).epsilon(0.5)
        plain = query.estimate()
        planned = query.estimate(expected_group_size=250)
    sent = [body for path, body in service.posted if path == "/v1/jobs/estimate"]
    assert "expected_group_size" not in sent[0] and sent[1]["expected_group_size"] == 250
    assert plain.group_size == {"low": 100, "high": 100, "source": "default"}
    assert planned.group_size == {"low": 250, "high": 250, "source": "argument"}
    assert planned.warnings == ["计数可能低于最小单元格 10 <b>。 The count may fall below 10."]
    shown = planned._repr_html_()
    assert "250 (argument)" in shown and "&lt;b&gt;" in shown and "<b>。" not in shown


def test_budget_when_no_grant_given_then_every_grant_in_a_table():
    with client(FakeService(grants=[grant(7), grant(8, state="suspended")])) as c:
        b = c.budget()
        one = c.budget(7)
    assert isinstance(b, Budget)
    frame = b.to_polars()
    assert frame["grant_id"].to_list() == [7, 8]
    assert frame["epsilon_left"].to_list() == [2.0, 2.0]
    assert frame.schema["datasets"] == pl.List(pl.String)
    assert one == {
        "epsilon_total": 3.0,
        "epsilon_spent": 1.0,
        "epsilon_left": 2.0,
        "delta_total": 1e-6,
        "delta_spent": 0.0,
    }


def test_wait_when_progress_then_bar_reaches_awaiting_review(capsys):
    with client() as c:
        job = c.dataset("residents").query().agg(count()).epsilon(0.5).submit(purpose="x")
        job.wait(poll=0.01, progress=True)
    assert job.status == "awaiting_review"
    bar = capsys.readouterr().err
    assert "job 1" in bar and "3/3" in bar and "awaiting_review" in bar


def test_result_when_not_released_then_error_says_wait_released():
    with client() as c:
        job = c.job(1)
        with pytest.raises(PolicyViolation, match=r"call job.wait_released\(\)"):
            job.result()


def test_repr_html_when_strings_hold_markup_then_escaped():
    with client() as c:
        ds = c.dataset("residents")
        job = c.job(1)
        pages = [ds._repr_html_(), c.datasets._repr_html_(), job._repr_html_()]
        pages.append(c.budget()._repr_html_())
    assert "&lt;b&gt;residents&lt;/b&gt; &amp; more" in pages[0] + pages[1]
    assert "<script>" not in pages[2] and "&lt;script&gt;" in pages[2]
    assert all(p.count("<table") >= 1 for p in pages)


def test_client_when_token_refused_then_error_says_check_the_token():
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "unauthenticated", "message": "unknown token"})

    with (
        Client("http://sandbox.test", "sbx_bad", transport=httpx.MockTransport(refuse)) as c,
        pytest.raises(Unauthenticated, match="unknown token; check SANDBOX_TOKEN"),
    ):
        c.me()


@pytest.mark.parametrize(
    ("header", "wait"),
    [("42", 42), ("Wed, 21 Oct 2015 07:28:00 GMT", 0)],  # seconds, or a proxy's HTTP date
)
def test_client_when_address_must_wait_then_error_carries_the_wait(header: str, wait: int):
    def throttle(request: httpx.Request) -> httpx.Response:
        body = {"error": "too_many_attempts", "message": "too many failed sign-ins"}
        return httpx.Response(429, json=body, headers={"Retry-After": header})

    with (
        Client("http://sandbox.test", "sbx_bad", transport=httpx.MockTransport(throttle)) as c,
        pytest.raises(TooManyAttempts, match="too many failed sign-ins") as raised,
    ):
        c.me()
    assert raised.value.retry_after_s == wait


@pytest.mark.parametrize("code", sorted(E.BY_CODE))
def test_client_when_service_answers_a_code_then_the_class_of_the_tree_it_names(code: str):
    # derived from the error tree: a class added to policies.errors is raised here for free
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(418, json={"error": code, "message": "refused for a reason"})

    with Client("http://sandbox.test", "t", transport=httpx.MockTransport(answer)) as c:
        with pytest.raises(E.SandboxError, match="refused for a reason") as raised:
            c.me()
    assert type(raised.value) is E.BY_CODE[code]


def test_error_tree_when_read_then_every_class_has_its_own_code():
    classes = [v for v in vars(E).values() if isinstance(v, type) and issubclass(v, E.SandboxError)]
    assert sorted(E.BY_CODE.values(), key=lambda c: c.code) == sorted(
        (c for c in classes if c is not E.SandboxError), key=lambda c: c.code
    )
    assert len(E.BY_CODE) == len(classes) - 1  # codes are unique (the base shares internal)
