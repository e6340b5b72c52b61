"""The query builder's types make unfinished queries unwritable: mypy refuses them.

A query can be estimated or submitted only once it has a privacy cost
(``.epsilon(...)``); aggregates come after the group-by. The checks run mypy
(strict, the project's configuration) on small analyst snippets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[4]

_PRELUDE = """
from sandbox.client import Client, count, mean

client = Client("http://127.0.0.1:8000", "token")
ds = client.dataset("residents")
"""

GOOD = (
    _PRELUDE
    + """
query = ds.query().filter("age", "ge", 18).group_by("city").agg(count(), mean("income", 0, 1e6))
private = query.epsilon(0.5).delta(1e-6)
private.estimate()
private.submit(purpose="income by city")
"""
)

BAD = {
    "submit_without_cost": "ds.query().group_by('city').agg(count()).submit(purpose='x')",
    "estimate_without_cost": "ds.query().agg(count()).estimate()",
    "submit_before_aggregates": "ds.query().group_by('city').submit(purpose='x')",
    "epsilon_before_aggregates": "ds.query().group_by('city').epsilon(0.5)",
    "group_by_twice": "ds.query().group_by('city').group_by('age')",
}


@pytest.mark.slow
def test_builder_when_query_is_unfinished_then_mypy_refuses_it_and_accepts_a_finished_one(
    tmp_path: Path,
) -> None:
    # One mypy run over one module (mypy is slow to start): each unfinished chain sits on
    # its own line; the complete query must type-check cleanly.
    lines = [*_PRELUDE.splitlines(), *GOOD.removeprefix(_PRELUDE).splitlines()]
    bad_at: dict[int, str] = {}
    for name, snippet in sorted(BAD.items()):
        lines.append(snippet)
        bad_at[len(lines)] = name
    module = tmp_path / "analyst.py"
    module.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, err, _ = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--follow-imports=silent",
            str(module),
        ]
    )
    errors: dict[int, str] = {}
    for line in (out + err).splitlines():
        parts = line.split(":", 3)
        if len(parts) == 4 and parts[0].endswith("analyst.py") and parts[2].strip() == "error":
            errors[int(parts[1])] = parts[3]
    unexpected = {n: e for n, e in errors.items() if n not in bad_at}
    assert not unexpected, f"a finished query does not type-check: {unexpected}"
    missed = [name for n, name in bad_at.items() if "has no attribute" not in errors.get(n, "")]
    assert not missed, f"mypy accepts unfinished queries: {missed}\n{out}{err}"
