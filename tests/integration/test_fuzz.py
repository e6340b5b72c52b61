"""A bounded schemathesis run of the OpenAPI schema: no request gets a 5xx.

The app runs in-process on a seeded store, SQLite and PostgreSQL (an admin, a
steward, an auditor and operators with tokens; a dataset; a grant). Each
generated request, valid for the schema (positive) or not (negative), is sent
as a steward and as an operator, and also as the admin (admin routes) or the
auditor (audit routes). Jobs the fuzzer submits are not run: the runner
refuses them, so no Ray is needed. About two minutes per store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi

from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.web.app import create_app
from tests.factories import RefusingRunner, World, build_world

pytestmark = pytest.mark.slow
#: Generated cases per operation and mode (each sent as two or three roles).
EXAMPLES = 40


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzz_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A seeded service on SQLite or on a fresh PostgreSQL database (32-bit keys, no NUL)."""
    data = tmp_path_factory.mktemp("fuzz")
    url, drop = None, None
    if request.param == "postgres":
        import sqlalchemy as sa

        server = request.getfixturevalue("postgres_server")
        name = f"sandbox_fuzz_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    settings = Settings(data_dir=data / "data", database_url=url)
    sandbox = Sandbox(settings, runner=RefusingRunner())
    app = create_app(sandbox)
    sandbox.start()  # the lifespan schemathesis starts finds it started
    world = build_world(TestClient(app), sandbox)
    try:
        yield world
    finally:
        asgi.shutdown_lifespans()
        sandbox.close()
        if drop is not None:
            drop()


@pytest.fixture(scope="module")
def api_schema(fuzz_world: World) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_world.http.app)
    return schema


def _fuzz(operation: Any, mode: GenerationMode, world: World) -> None:
    """Send ``operation``'s generated cases as each role; raise on the first 5xx."""
    roles = ["steward", "operator"]
    if operation.path.startswith(("/v1/orgs", "/v1/users")):
        roles.append("admin")
    if operation.path.startswith("/v1/audit"):
        roles.append("auditor")

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def run(case: Any) -> None:
        for role in roles:
            case.call_and_validate(headers=world.as_(role), checks=[not_a_server_error])

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_when_fuzzed_then_no_server_error(
    api_schema: Any, fuzz_world: World, mode: GenerationMode
) -> None:
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, mode, fuzz_world)
        except hypothesis.errors.Unsatisfiable:
            continue  # nothing to make invalid (no parameters, no body)
        except Exception as err:  # every operation's failure is reported
            failures.append(f"{operation.method.upper()} {operation.path}: {err}")
    assert not failures, "\n\n".join(failures)
