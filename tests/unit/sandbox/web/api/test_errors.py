"""The API's error answers: a transaction the database gave up on is a 409 to retry."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from sandbox.web.api.errors import install_error_handlers


class DriverError(Exception):
    """A driver exception carrying a SQLSTATE, as psycopg's do."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__("deadlock detected DETAIL: Process 1 waits for a row of 'secret'")
        self.sqlstate = sqlstate


def _app(sqlstate: str) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/v1/x")
    def fails() -> None:
        raise OperationalError("SELECT 1", {}, DriverError(sqlstate))

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("sqlstate", ["40P01", "40001", "55P03"])
def test_handler_when_database_gave_up_for_a_concurrent_transaction_then_409_to_retry(
    sqlstate: str,
):
    response = _app(sqlstate).get("/v1/x")
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"] == "conflict"
    assert "secret" not in response.text and "deadlock" not in response.text


def test_handler_when_another_database_error_then_500_without_its_message():
    response = _app("08006").get("/v1/x")  # connection failure: not the caller's to retry
    assert response.status_code == 500
    assert "secret" not in response.text
