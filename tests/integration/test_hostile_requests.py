"""Hostile requests: each gets a clear 4xx before anything is charged, never a 5xx.

The service runs no jobs here (the runner refuses them): what is tested is the
HTTP edge, on SQLite and PostgreSQL (whose ``INTEGER`` keys hold 32 bits).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobs.runner import Outcome, Task
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.web.app import create_app
from tests.factories import RefusingRunner, World, aggregate_spec, build_world

#: Ids no key column holds: past PostgreSQL's INTEGER, past int64, past uint64.
HUGE_IDS = [2**31, 2**63, 2**64, 10**30]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def quiet_world(settings: Settings) -> Iterator[World]:
    sandbox = Sandbox(settings, runner=RefusingRunner())
    with TestClient(create_app(sandbox), raise_server_exceptions=False) as http:
        yield build_world(http, sandbox)


def _spent(world: World) -> float:
    return float(world.grant()["epsilon_spent"])


def _sign_in(world: World) -> tuple[TestClient, str]:
    browser = TestClient(
        world.http.app,
        follow_redirects=False,
        raise_server_exceptions=False,
        cookies={"console_lang": "en"},
    )
    form = browser.get("/console/login")
    found = _CSRF.search(form.text)
    assert found
    response = browser.post("/console/login", data={"token": world.steward, "csrf": found[1]})
    assert response.status_code == 303, response.text
    found = _CSRF.search(browser.get("/console/queue").text)
    assert found
    return browser, found[1]


def _assert_console_headers(response: Any) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, response.headers
    assert response.headers.get("cache-control") == "no-store"
    assert response.headers.get("x-frame-options") == "DENY"


@pytest.mark.parametrize("huge", HUGE_IDS)
def test_api_when_an_id_is_beyond_the_store_then_422(quiet_world: World, huge: int) -> None:
    w = quiet_world
    reason = {"reason": "checking the id range"}
    calls = [
        ("get", f"/v1/jobs/{huge}", "operator", None),
        ("get", f"/v1/jobs/{huge}/output", "operator", None),
        ("get", f"/v1/jobs/{huge}/manifest", "operator", None),
        ("post", f"/v1/jobs/{huge}/review", "steward", {"decision": "approve", "reason": "x"}),
        ("get", f"/v1/grants/{huge}", "steward", None),
        ("post", f"/v1/grants/{huge}/suspend", "steward", reason),
        ("post", f"/v1/users/{huge}/tokens", "admin", None),
        ("get", f"/v1/audit?after={huge}", "auditor", None),
        ("get", f"/v1/manifests/{huge}/inputs", "auditor", None),
        (
            "post",
            "/v1/budgets/periods",
            "steward",
            {"org_id": huge, "dataset": "residents", "reason": "checking the id range"},
        ),
        ("post", "/v1/jobs", "operator", {"grant_id": huge, "spec": aggregate_spec()}),
        ("post", "/v1/jobs/estimate", "operator", {"grant_id": huge, "spec": aggregate_spec()}),
        ("post", "/v1/users", "admin", {"name": "someone", "role": "steward", "org_id": huge}),
    ]
    grant = {k: v for k, v in w.grant().items() if k in ("datasets", "purpose", "kinds")}
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    body = {**grant, "org_id": huge, "epsilon": 1.0, "expires_at": expires}
    calls.append(("post", "/v1/grants", "steward", body))
    for method, path, who, payload in calls:
        response = w.http.request(method, path, headers=w.as_(who), json=payload)
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert "between 1 and" in response.text or "less than or equal" in response.text
    assert _spent(w) == 0


@pytest.mark.parametrize("huge", [2**31, 2**64])
def test_console_when_an_id_is_beyond_the_store_then_422_with_headers(
    quiet_world: World, huge: int
) -> None:
    browser, csrf = _sign_in(quiet_world)
    pages = [
        browser.get(f"/console/jobs/{huge}"),
        browser.get(f"/console/jobs/1/files/{huge}.png"),
        browser.post(f"/console/jobs/{huge}/review", data={"csrf": csrf, "decision": "approve"}),
        browser.post(
            f"/console/grants/{huge}/suspend", data={"csrf": csrf, "reason": "a good reason"}
        ),
    ]
    for response in pages:
        assert response.status_code == 422, (response.request.url, response.text)
        _assert_console_headers(response)
    # a filter in the query string that is no id shows every organisation, like an empty one
    for org in (str(huge), "²", "-1"):
        response = browser.get("/console/queue", params={"org": org})
        assert response.status_code == 200, (org, response.text)
    form = {
        "csrf": csrf,
        "org_id": str(huge),
        "purpose": "statistics",
        "epsilon": "1",
        "expires": "2030-01-01",
        "datasets": "residents",
        "kinds": "aggregate",
    }
    response = browser.post("/console/grants", data=form)
    assert response.status_code == 422, response.text
    _assert_console_headers(response)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "[1, NaN]"])
def test_submit_when_a_filter_value_is_not_finite_then_422_and_nothing_spent(
    quiet_world: World, value: str
) -> None:
    w = quiet_world
    op = "in" if value.startswith("[") else "gt"
    spec = json.dumps(aggregate_spec(filters=[{"column": "age", "op": op, "value": 0}]))
    spec = spec.replace('"value": 0', f'"value": {value}')
    body = f'{{"grant_id": {w.grant_id}, "spec": {spec}}}'
    headers = {**w.as_("operator"), "Content-Type": "application/json"}
    for path in ("/v1/jobs", "/v1/jobs/estimate"):
        response = w.http.post(path, headers=headers, content=body)
        assert response.status_code == 422, (path, response.text)
        assert "finite" in response.json()["message"]
    assert _spent(w) == 0


@pytest.mark.parametrize(
    ("column", "op", "value"),
    [
        ("age", "gt", "thirty"),  # text against an integer column
        ("age", "in", [30, "forty"]),  # one of the values is text
        ("age", "eq", True),  # true/false against numbers
        ("city", "eq", 1),  # a number against text
        ("city", "in", ["南京市", 2]),
        ("household_size", "ge", "3"),
    ],
)
def test_submit_when_a_filter_value_does_not_fit_its_column_then_422_before_any_charge(
    quiet_world: World, column: str, op: str, value: Any
) -> None:
    w = quiet_world
    response = w.submit(filters=[{"column": column, "op": op, "value": value}])
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert f"column '{column}'" in message and "must compare with" in message
    assert str(value) not in message  # the value is not echoed
    assert _spent(w) == 0
    jobs = w.http.get("/v1/jobs", headers=w.as_("operator")).json()
    assert jobs == []


def test_ingest_when_metadata_is_nested_deeply_then_422(quiet_world: World) -> None:
    w = quiet_world
    metadata = "[" * 100_000 + "]" * 100_000
    response = w.http.post(
        "/v1/datasets",
        headers=w.as_("steward"),
        files={"file": ("t.csv", b"a,b\n1,2\n")},
        data={"metadata": metadata},
    )
    assert response.status_code == 422, response.text
    assert "metadata must be a JSON object" in response.json()["message"]


def test_submit_when_the_body_is_nested_deeply_then_4xx(quiet_world: World) -> None:
    w = quiet_world
    body = '{"grant_id": 1, "spec": ' + "[" * 100_000 + "]" * 100_000 + "}"
    headers = {**w.as_("operator"), "Content-Type": "application/json"}
    response = w.http.post("/v1/jobs", headers=headers, content=body)
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(
    "expires_at",
    [
        "2030-01-01T00:00:00",  # no time zone: whose midnight?
        "2030-01-01",
        "9999-12-31T23:59:59-14:00",  # past the last year a date holds, in UTC
    ],
)
def test_grant_when_expiry_has_no_time_zone_then_422(quiet_world: World, expires_at: str) -> None:
    w = quiet_world
    body = {
        "org_id": w.firm_id,
        "datasets": ["residents"],
        "purpose": "statistics",
        "kinds": ["aggregate"],
        "epsilon": 1.0,
        "commitment_required": True,
        "expires_at": expires_at,
    }
    response = w.http.post("/v1/grants", headers=w.as_("steward"), json=body)
    assert response.status_code == 422, response.text
    assert response.json()["problems"][0]["loc"][-1] == "expires_at"


def test_console_when_page_is_unknown_or_fails_then_error_page_keeps_security_headers(
    quiet_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, _ = _sign_in(quiet_world)
    missing = browser.get("/console/no-such-page")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    _assert_console_headers(missing)
    not_a_number = browser.get("/console/jobs/abc")
    assert not_a_number.status_code == 422
    _assert_console_headers(not_a_number)

    from sandbox.web.console import views

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "queue", broken)
    crashed = browser.get("/console/queue")
    assert crashed.status_code == 500
    assert "text/html" in crashed.headers["content-type"]
    assert "a bug" not in crashed.text
    _assert_console_headers(crashed)


def test_api_when_a_route_fails_then_500_json_without_detail_and_no_store(
    quiet_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = quiet_world
    from sandbox.web.api import routes_grants

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(routes_grants.grants, "list_for", broken)
    response = w.http.get("/v1/grants", headers=w.as_("steward"))
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert "a bug" not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_api_when_answering_then_cache_control_is_no_store(quiet_world: World) -> None:
    w = quiet_world
    for path in ("/v1/me", "/v1/grants", f"/v1/grants/{w.grant_id}", "/v1/datasets", "/healthz"):
        response = w.http.get(path, headers=w.as_("steward"))
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store", path
    missing = w.http.get("/v1/jobs/999", headers=w.as_("steward"))
    assert missing.status_code == 404
    assert missing.headers["cache-control"] == "no-store"


def test_docs_when_opened_then_scripts_come_from_this_service_under_a_csp(
    quiet_world: World,
) -> None:
    w = quiet_world
    for page in ("/docs", "/redoc"):
        response = w.http.get(page)
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        scripts = re.findall(r'<script src="([^"]+)"', response.text)
        assert scripts and all(s.startswith("/docs/assets/") for s in scripts), scripts
        assert "<script>" not in response.text  # no inline script: the CSP would block it
        assert "cdn" not in response.text.lower() and "https://" not in response.text
        for src in scripts:
            asset = w.http.get(src)
            assert asset.status_code == 200 and len(asset.content) > 10
            assert asset.headers["content-type"].startswith("text/javascript")
    assert w.http.get("/docs/assets/..%2fsettings.py").status_code == 404


def test_requests_when_text_holds_nul_then_422_on_every_store(quiet_world: World) -> None:
    # PostgreSQL's text and JSONB cannot hold NUL: each of these was a 5xx there
    w = quiet_world
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    grant = {
        "org_id": w.firm_id,
        "datasets": ["residents"],
        "purpose": "p\x00q",
        "kinds": ["aggregate"],
        "epsilon": 1.0,
        "expires_at": expires,
    }
    job = {"grant_id": w.grant_id, "spec": aggregate_spec(), "purpose": "x\x00y"}
    calls = [
        ("post", "/v1/orgs", "admin", {"name": "firm\x00two", "kind": "operator"}),
        ("get", "/v1/datasets/resi%00dents", "steward", None),
        ("post", f"/v1/grants/{w.grant_id}/suspend", "steward", {"reason": "abc\x00defgh"}),
        ("post", "/v1/grants", "steward", grant),
        ("post", "/v1/grants", "steward", {**grant, "purpose": "ok", "datasets": ["a\x00b"]}),
        ("post", "/v1/jobs", "operator", job),
    ]
    for method, path, who, payload in calls:
        response = w.http.request(method, path, headers=w.as_(who), json=payload)
        assert response.status_code == 422, (path, response.status_code, response.text)
        # a name is refused by its own rule (no control characters) before the store's
        assert "NUL" in response.json()["message"] or "problems" in response.json(), path
    assert w.grant()["state"] == "active"
    assert _spent(w) == 0


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_service_when_started_under_any_umask_then_its_files_are_owner_only(
    tmp_path: Path, umask: int
) -> None:
    data = tmp_path / "data"
    old = os.umask(umask)
    try:
        sandbox = Sandbox(Settings(data_dir=data), runner=RefusingRunner())
        with TestClient(create_app(sandbox)) as http:
            build_world(http, sandbox)  # a dataset is ingested, the database written
            modes = {
                str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode)
                for p in [data, *data.iterdir()]
            }
    finally:
        os.umask(old)
    private = {"data": 0o700, "data/datasets": 0o700, "data/quarantine": 0o700}
    private |= {"data/releases": 0o700, "data/uploads": 0o700, "data/secret_key": 0o600}
    private |= {"data/sandbox.db": 0o600}
    assert {k: modes.get(k) for k in private} == private
    # SQLite gives its WAL and shared-memory files the database file's mode
    for name in ("data/sandbox.db-wal", "data/sandbox.db-shm"):
        if name in modes:
            assert modes[name] == 0o600, (name, oct(modes[name]))
    assert all(mode & 0o077 == 0 for mode in modes.values()), {k: oct(v) for k, v in modes.items()}


def _served_app(monkeypatch: pytest.MonkeyPatch, data: Path, **env: str) -> Any:
    """The ASGI app exactly as ``sandbox serve`` hands it to uvicorn (proxy handling included)."""
    import uvicorn

    from sandbox import service
    from sandbox.cli import main as cli

    monkeypatch.setenv("SANDBOX_DATA_DIR", str(data))
    monkeypatch.setenv("SANDBOX_AUTH_FAILURE_LIMIT", "3")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(service, "RayRunner", lambda *a, **k: RefusingRunner())
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(app=app, **kwargs))
    cli.serve(host=None, port=None)
    config = uvicorn.Config(**served)
    config.load()
    return config.loaded_app


def _statuses(app: Any, peer: str, attempts: int) -> list[int]:
    """Bad tokens from ``peer``, each naming another client in X-Forwarded-For."""
    with TestClient(app, client=(peer, 40000)) as http:
        return [
            http.get(
                "/v1/me",
                headers={"Authorization": "Bearer sbx_wrong", "X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(attempts)
        ]


def test_serve_when_forwarded_for_comes_from_loopback_by_default_then_the_throttle_ignores_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _served_app(monkeypatch, tmp_path / "data")
    # a guesser on the host rotates X-Forwarded-For: it is still one address, held at 3
    assert _statuses(app, "127.0.0.1", 5) == [401, 401, 401, 429, 429]


def test_serve_when_a_proxy_is_configured_then_only_its_forwarded_for_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"SANDBOX_FORWARDED_ALLOW_IPS": "10.0.0.7"}
    app = _served_app(monkeypatch, tmp_path / "data", **env)
    assert _statuses(app, "10.0.0.7", 5) == [401] * 5  # five clients behind the proxy
    assert _statuses(app, "127.0.0.1", 5) == [401, 401, 401, 429, 429]  # not the proxy


class NulPrintingRunner:
    """A job whose run printed NUL and whose output has a column name with NUL in it."""

    def run(self, task: Task) -> Outcome:
        Path(task.output_path).write_bytes(b"output")
        report = {"stdout": {"tail": "printed \x00 by the code", "bytes": 22}}
        return Outcome(task.output_path, "0" * 64, 1, 0.0, 0.0, report=report)


def test_job_when_its_run_report_holds_nul_then_it_awaits_review_on_every_store(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL refused the report (the job failed: a channel the code controls)
    from sandbox.checks import Check
    from sandbox.jobs import execute as job_service
    from tests.factories import wait_status

    reason = "column 'a\x00b' holds no identifiers"
    monkeypatch.setattr(job_service, "run_isolated", lambda *a: [Check("pii_scan", "pass", reason)])
    sandbox = Sandbox(settings, runner=NulPrintingRunner())
    with TestClient(create_app(sandbox)) as http:
        world = build_world(http, sandbox)
        response = world.submit()
        assert response.status_code == 202, response.text
        job = wait_status(world, response.json()["id"], {"awaiting_review", "failed"})
    assert job["status"] == "awaiting_review", job["error"]
    assert job["report"]["stdout"]["tail"] == "printed \ufffd by the code"
    assert job["report"]["checks"][0]["reason"] == "column 'a\ufffdb' holds no identifiers"


#: The six characters backslash, u, 0, 0, 0, 0 typed as text: no NUL in them.
_ESCAPE_TEXT = "\\u0000"


def test_requests_when_text_holds_the_letters_of_a_nul_escape_then_stored_on_every_store(
    quiet_world: World,
) -> None:
    w = quiet_world
    reason = f"typed {_ESCAPE_TEXT} in a reason"
    response = w.http.post(
        f"/v1/grants/{w.grant_id}/suspend", headers=w.as_("steward"), json={"reason": reason}
    )
    assert response.status_code == 200, response.text
    entries = w.http.get("/v1/audit", headers=w.as_("auditor")).json()
    assert reason in [e["details"].get("reason") for e in entries]
    assert w.http.get("/v1/audit/verify", headers=w.as_("auditor")).json()["ok"]


class EscapePrintingRunner:
    """A job whose run printed the letters of a NUL escape (not a NUL)."""

    def run(self, task: Task) -> Outcome:
        Path(task.output_path).write_bytes(b"output")
        report = {"stdout": {"tail": f"printed {_ESCAPE_TEXT} by the code", "bytes": 27}}
        return Outcome(task.output_path, "0" * 64, 1, 0.0, 0.0, report=report)


def test_job_when_its_run_report_holds_the_letters_of_a_nul_escape_then_kept_as_typed(
    settings: Settings,
) -> None:
    from tests.factories import wait_status

    sandbox = Sandbox(settings, runner=EscapePrintingRunner())
    with TestClient(create_app(sandbox)) as http:
        world = build_world(http, sandbox)
        response = world.submit()
        assert response.status_code == 202, response.text
        job = wait_status(world, response.json()["id"], {"awaiting_review", "failed"})
    assert job["status"] == "awaiting_review", job["error"]
    assert job["report"]["stdout"]["tail"] == f"printed {_ESCAPE_TEXT} by the code"
