"""A bounded schemathesis run of the OpenAPI schema: no request gets a 5xx.

The app runs in-process on a seeded SQLite store (an admin, a steward, an
auditor and an operator with tokens; a dataset; a grant). Each generated
request is sent as a steward and as an operator (and, for the admin routes,
as the admin). Jobs the fuzzer submits are not run: the runner refuses them,
so no Ray is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi

from jobs.errors import JobFailed
from jobs.runner import Outcome, Task
from sandbox.api.app import create_app
from sandbox.service import Sandbox
from sandbox.settings import Settings
from tests.factories import World, build_world

pytestmark = pytest.mark.slow
#: Generated cases per operation and mode (each sent as two or three roles).
EXAMPLES = 25


class RefusingRunner:
    """Runs nothing: a fuzzed job fails at once (the fuzz tests the HTTP edge, not Ray)."""

    def run(self, task: Task) -> Outcome:
        raise JobFailed("this test service runs no jobs")


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("fuzz")
    sandbox = Sandbox(Settings(data_dir=data / "data"), runner=RefusingRunner())
    app = create_app(sandbox)
    sandbox.start()  # the lifespan schemathesis starts finds it started
    world = build_world(TestClient(app), sandbox)
    try:
        yield world
    finally:
        asgi.shutdown_lifespans()
        sandbox.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_world: World) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_world.http.app)
    return schema


def _fuzz(operation: Any, mode: GenerationMode, world: World) -> None:
    """Send ``operation``'s generated cases as each role; raise on the first 5xx."""
    roles = ["steward", "operator"]
    if operation.path.startswith(("/v1/orgs", "/v1/users")):
        roles.append("admin")

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
        except Exception as err:  # noqa: BLE001 - every operation's failure is reported
            failures.append(f"{operation.method.upper()} {operation.path}: {err}")
    assert not failures, "\n\n".join(failures)
