"""Fixtures for service tests: a real app on a real store, with the session's Ray or none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.web.app import create_app
from tests.factories import RefusingRunner, World, build_world


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


@pytest.fixture
def service(settings: Settings, ray_runner: object) -> Iterator[tuple[TestClient, Sandbox]]:
    sandbox = Sandbox(settings, runner=ray_runner)  # type: ignore[arg-type]
    with TestClient(create_app(sandbox)) as http:
        yield http, sandbox


@pytest.fixture
def ray_free_service(settings: Settings) -> Iterator[tuple[TestClient, Sandbox]]:
    """The service of :func:`service` whose runner refuses jobs: for tests that run none.

    A module of such tests overrides ``service`` with it, so ``world`` stays the same.
    """
    sandbox = Sandbox(settings, runner=RefusingRunner())
    with TestClient(create_app(sandbox)) as http:
        yield http, sandbox


@pytest.fixture
def world(service: tuple[TestClient, Sandbox]) -> World:
    http, sandbox = service
    return build_world(http, sandbox)
