"""Two API processes on one database, as behind a load balancer: console sessions and the
sign-in throttle are shared (on SQLite and PostgreSQL, without Ray)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.web.app import create_app
from tests.factories import RefusingRunner, World, auth, build_world
from tests.integration.test_console import _csrf, _sign_in

#: Failed sign-ins an address may make per window in these tests.
LIMIT = 3


@pytest.fixture
def pair(settings: Settings) -> Iterator[tuple[World, TestClient]]:
    """The world on app A, and app B: another service object and app on the same database."""
    settings = settings.model_copy(update={"auth_failure_limit": LIMIT})
    first, second = (Sandbox(settings, runner=RefusingRunner()) for _ in range(2))
    with TestClient(create_app(first)) as http_a, TestClient(create_app(second)) as http_b:
        yield build_world(http_a, first), http_b


def _browser(http: TestClient) -> TestClient:
    """A browser of its own (own cookie jar) on one app."""
    return TestClient(http.app, follow_redirects=False, cookies={"console_lang": "en"})  # type: ignore[arg-type]


def _on(http: TestClient, browser: TestClient) -> TestClient:
    """A browser on another app holding ``browser``'s cookies (the balancer's next pick)."""
    moved = _browser(http)
    moved.cookies = browser.cookies
    return moved


def _signed_in(browser: TestClient) -> bool:
    response = browser.get("/console/queue")
    assert response.status_code in (200, 303)
    return response.status_code == 200


def test_processes_when_a_session_is_made_on_one_then_the_other_serves_and_ends_it(
    pair: tuple[World, TestClient],
) -> None:
    world, other = pair
    on_a = _browser(world.http)
    csrf = _sign_in(on_a, world.steward)
    on_b = _on(other, on_a)
    page = on_b.get("/console/queue")
    assert page.status_code == 200 and "steward" in page.text
    assert _csrf(page.text) == csrf  # one session: one CSRF secret
    refused = on_b.post("/console/logout", data={"csrf": "forged"})
    assert refused.status_code == 403 and _signed_in(on_a)
    assert on_b.post("/console/logout", data={"csrf": csrf}).status_code == 303
    assert not _signed_in(on_a)  # signed out on B: gone on A too
    assert not _signed_in(_on(other, on_a))


def test_processes_when_an_address_fails_on_one_then_the_other_counts_it(
    pair: tuple[World, TestClient],
) -> None:
    world, other = pair
    bad = auth("sbx_wrong")
    for http in (world.http, other, world.http):  # the balancer spreads a guesser's tries
        assert http.get("/v1/datasets", headers=bad).status_code == 401
    for http in (other, world.http):
        refused = http.get("/v1/datasets", headers=bad)
        assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    browser = _browser(other)  # the console's sign-in shares the limit
    form = browser.get("/console/login")
    response = browser.post("/console/login", data={"token": "sbx_x", "csrf": _csrf(form.text)})
    assert response.status_code == 429
    # a valid token still signs in on either
    assert other.get("/v1/datasets", headers=world.as_("auditor")).status_code == 200
    _sign_in(_browser(other), world.steward)
    actions = [
        e["action"] for e in other.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
    ]
    assert actions.count("auth.failure") == LIMIT and actions.count("auth.throttled") == 1


def test_processes_when_a_token_is_revoked_on_one_then_its_session_ends_on_both(
    pair: tuple[World, TestClient],
) -> None:
    world, other = pair
    on_a = _browser(world.http)
    _sign_in(on_a, world.steward)
    on_b = _on(other, on_a)
    assert _signed_in(on_b)
    me = other.get("/v1/me", headers=world.as_("steward")).json()
    rotated = other.post(f"/v1/users/{me['id']}/tokens", headers=world.as_("admin"))
    assert rotated.status_code == 201
    assert not _signed_in(on_a) and not _signed_in(on_b)
    _sign_in(on_a, rotated.json()["token"])  # the new token signs in again
    assert _signed_in(_on(other, on_a))
