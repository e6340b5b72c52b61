"""/healthz, /readyz and /metrics on the API app and on a worker's app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.web.app import create_app, create_worker_app
from tests.factories import RefusingRunner, auth

TOKEN = "m" * 40
#: A PostgreSQL that cannot answer: nothing listens on port 1.
DOWN_URL = "postgresql+psycopg://watcher:hunter2-secret@127.0.0.1:1/sandbox"


class FakeRay(RefusingRunner):
    """A runner whose Ray answers the readiness probe as told."""

    def __init__(self, up: bool) -> None:
        self.up = up

    def ready(self) -> bool:
        return self.up


def sandbox(tmp_path: Path, runner: Any, **settings: Any) -> Sandbox:
    return Sandbox(Settings(data_dir=tmp_path / "data", **settings), runner=runner)


def test_healthz_when_asked_then_alive_with_the_api_headers(tmp_path: Path) -> None:
    with TestClient(create_app(sandbox(tmp_path, FakeRay(up=False)))) as http:
        response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_readyz_when_database_and_ray_answer_then_200(tmp_path: Path) -> None:
    with TestClient(create_app(sandbox(tmp_path, FakeRay(up=True)))) as http:
        response = http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "ray": "ok"}}


def test_readyz_when_ray_is_down_then_503_naming_ray(tmp_path: Path) -> None:
    with TestClient(create_app(sandbox(tmp_path, FakeRay(up=False)))) as http:
        response = http.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {"database": "ok", "ray": "unreachable"},
        "failed": ["ray"],
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_when_no_probe_or_no_workers_then_ray_is_not_asked(tmp_path: Path) -> None:
    with TestClient(create_app(sandbox(tmp_path / "a", RefusingRunner()))) as http:
        assert http.get("/readyz").json()["checks"]["ray"] == "not used"
    api_only = sandbox(tmp_path / "b", FakeRay(up=False), workers=0, untimed_workers=0)
    with TestClient(create_app(api_only)) as http:
        response = http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "ray": "not used"}


def test_readyz_when_the_database_is_down_then_503_without_its_address(tmp_path: Path) -> None:
    app = create_app(sandbox(tmp_path, FakeRay(up=True), database_url=DOWN_URL))
    http = TestClient(app)  # no lifespan: the service could not start against it
    response = http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert response.json()["checks"] == {"database": "unreachable", "ray": "ok"}
    for secret in ("hunter2", "watcher", "127.0.0.1", "psycopg", "refused"):
        assert secret not in response.text
    assert http.get("/healthz").status_code == 200  # alive all the same
    metrics = http.get("/metrics")
    assert metrics.status_code == 503
    assert "hunter2" not in metrics.text


def test_metrics_when_a_token_is_set_then_401_without_it(tmp_path: Path) -> None:
    app = create_app(sandbox(tmp_path, FakeRay(up=True), metrics_token=TOKEN))
    with TestClient(app) as http:
        assert http.get("/metrics").status_code == 401
        wrong = http.get("/metrics", headers=auth("m" * 39))
        assert wrong.status_code == 401
        assert wrong.headers["WWW-Authenticate"] == "Bearer"
        assert http.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        response = http.get("/metrics", headers=auth(TOKEN))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    names = {f.name for f in text_string_to_metric_families(response.text)}
    assert {"sandbox_jobs", "sandbox_queue_depth", "sandbox_sign_in_failures"} <= names


def test_metrics_when_no_token_is_set_then_open(tmp_path: Path) -> None:
    with TestClient(create_app(sandbox(tmp_path, FakeRay(up=True)))) as http:
        response = http.get("/metrics")
    assert response.status_code == 200
    assert "sandbox_queue_depth 0.0" in response.text


def test_worker_app_when_served_then_only_probes_and_metrics_and_no_lifespan(
    tmp_path: Path,
) -> None:
    service = sandbox(tmp_path, FakeRay(up=True))
    service.db.migrate()  # the worker starts its service itself
    with TestClient(create_worker_app(service)) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").status_code == 200
        metrics = http.get("/metrics")
        assert metrics.status_code == 200
        assert "sandbox_queue_depth" in metrics.text
        assert metrics.headers["Cache-Control"] == "no-store"
        assert http.get("/v1/me").status_code == 404
        assert http.get("/openapi.json").status_code == 404
        assert http.get("/console/login").status_code == 404
    assert service._started is False  # the app neither started nor closed it
