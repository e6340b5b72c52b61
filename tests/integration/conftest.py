"""Fixtures for service tests: a real app on a real store, with the session's Ray or none."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sandbox.cli.demo import free_port, serving
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


@contextmanager
def _serving_world(data: Path, runner: object) -> Iterator[tuple[str, World]]:
    sandbox = Sandbox(Settings(data_dir=data), runner=runner)  # type: ignore[arg-type]
    sandbox.start()
    with serving(sandbox, free_port()) as url, httpx.Client(base_url=url) as http:
        yield url, build_world(http, sandbox)  # type: ignore[arg-type]
    sandbox.close()


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, ray_runner: object
) -> Iterator[tuple[str, World]]:
    """A real server on a free loopback port, on the session's Ray, for a module's tests."""
    with _serving_world(tmp_path_factory.mktemp("cli"), ray_runner) as served:
        yield served


@pytest.fixture(scope="module")
def ray_free_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World]]:
    """The server of :func:`live` whose runner refuses jobs: for modules that run none."""
    with _serving_world(tmp_path_factory.mktemp("cli"), RefusingRunner()) as served:
        yield served
