"""Shared fixtures: one Ray per session, fresh databases (SQLite and PostgreSQL), services."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Not collected (``--doctest-modules`` imports every module): scripts that act on import,
#: run as programs by the tests (a two-node Ray cluster's check).
collect_ignore = ["integration/scripts"]

POSTGRES_URL = os.environ.get(
    "SANDBOX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _no_sandbox_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; the caller's SANDBOX_* must not leak in."""
    for key in list(os.environ):
        if key.startswith("SANDBOX_") and key != "SANDBOX_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """A command run in-process (``sandbox serve``, ``worker``) configures logging for a
    process (root level INFO, its handler); the next test starts from what was there."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)


def _postgres_admin_url() -> str | None:
    """The PostgreSQL URL if a server answers; in CI its absence is an error."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except sa.exc.OperationalError:
        if os.environ.get("CI"):
            raise
        return None
    return POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = _postgres_admin_url()
    if url is None:
        pytest.skip(f"no PostgreSQL answers at SANDBOX_TEST_POSTGRES_URL ({POSTGRES_URL})")
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped after it."""
    import sqlalchemy as sa

    name = f"sandbox_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_server).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def ray_runner() -> Iterator[object]:
    """The session's one local Ray (it takes seconds to start)."""
    from jobs.runner import RayRunner

    runner = RayRunner(num_cpus=2, timeout_s=120)
    runner.start()
    yield runner
    runner.stop()
