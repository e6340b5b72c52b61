"""The checks' child started ahead of its output (issue 18): one output each, as started."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from sandbox.checks.engine import run_checks
from sandbox.checks.process import Limits, Spare, run_isolated
from tests.unit.sandbox.checks.helpers import context_of


def _waiting(spare: Spare, other_than: int | None = None) -> subprocess.Popen[bytes]:
    """The child the spare holds (a different one than ``other_than``), once started."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        held = spare._held
        if held is not None and held[0].pid != other_than:
            return held[0]
        time.sleep(0.02)
    raise AssertionError("no spare was started")


def _output(tmp_path: Path) -> Path:
    path = tmp_path / "out.parquet"
    pl.DataFrame({"city": ["南京市"] * 30, "count": [40] * 30}).write_parquet(path)
    return path


def test_run_isolated_when_a_spare_waits_then_it_checks_once_and_the_next_is_started(
    tmp_path: Path,
) -> None:
    path = _output(tmp_path)
    context = context_of("aggregate", min_cell=10, count_columns=("count",))
    spare = Spare(Limits())
    try:
        spare.start()
        first = _waiting(spare)
        assert run_isolated(path, context, Limits(), spare) == run_checks(path, context)
        assert first.returncode == 0  # it answered and ended: no child checks two outputs
        second = _waiting(spare, other_than=first.pid)
        assert second.poll() is None
    finally:
        spare.close()


def test_spare_when_the_environment_changed_then_it_is_discarded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spare = Spare(Limits())
    try:
        spare.start()
        child = _waiting(spare)
        monkeypatch.setenv("TZ", "Asia/Shanghai")  # a child started now would get it
        assert spare.take(Limits()) is None
        assert child.returncode is not None
    finally:
        spare.close()


def test_spare_when_other_limits_are_asked_then_it_is_not_used() -> None:
    spare = Spare(Limits())
    try:
        spare.start()
        child = _waiting(spare)
        assert spare.take(Limits(memory_bytes=1 << 30)) is None
        assert child.returncode is not None
    finally:
        spare.close()


def test_spare_when_closed_then_its_child_is_killed_and_none_is_started() -> None:
    spare = Spare(Limits())
    spare.start()
    child = _waiting(spare)
    spare.close()
    assert child.returncode is not None
    spare.start()
    assert spare.take(Limits()) is None
    time.sleep(0.5)
    assert spare._held is None
