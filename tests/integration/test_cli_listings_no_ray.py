"""The service commands that run no job (listings, a missing token), against a server without Ray.

The commands that need a job are in ``test_cli_listings.py`` (on the session's Ray).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from sandbox.cli.main import app
from tests.factories import World
from tests.integration.test_cli_listings import as_json, sandbox_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(ray_free_live: tuple[str, World]) -> Iterator[tuple[str, World]]:
    """No Ray: a job submitted here fails, and no test here submits one."""
    yield ray_free_live


def test_datasets_when_listed_then_table_and_json_carry_metadata_only(live):
    result = sandbox_cli(live, "operator", "datasets")
    assert result.exit_code == 0 and "residents" in result.stdout and "~" in result.stdout
    [entry] = as_json(live, "operator", "datasets")
    assert entry["name"] == "residents" and entry["row_count"] is None  # the exact count: bureau
    assert entry["public_row_count"] > 0 and entry["sha256"] is None
    shown = sandbox_cli(live, "operator", "datasets", "residents")
    assert "direct_identifier" in shown.stdout and "income" in shown.stdout
    assert as_json(live, "operator", "datasets", "residents")["public_keys"]["city"]


def test_cli_when_no_token_then_exit_1_naming_the_variable(live):
    result = CliRunner().invoke(app, ["datasets"], env={"SANDBOX_URL": live[0], "COLUMNS": "200"})
    assert result.exit_code == 1 and "SANDBOX_TOKEN" in result.stderr
