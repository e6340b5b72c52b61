"""What the checks' child process leaves, answers and inherits (issue 13)."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import polars as pl
import pytest

from policies.errors import InternalError
from sandbox.checks import MAX_REASON
from sandbox.checks import process as _checks_process
from sandbox.checks.engine import run_checks
from sandbox.checks.process import ChecksStopped, Limits, run_isolated
from sandbox.checks.support import rows as _checks_rows
from tests.unit.sandbox.checks.helpers import context_of


def test_run_isolated_when_the_child_is_killed_then_no_extracted_member_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    output = tmp_path / "out.zip"
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("small.csv", "n\n12\n")
        archive.writestr("model.json", json.dumps({"w": [f"s{i}" for i in range(3_000_000)]}))
    with pytest.raises(ChecksStopped, match="MiB of memory"):
        run_isolated(output, context_of("custom", min_cell=10), Limits(memory_bytes=250 << 20))
    assert list(temp.iterdir()) == []


def test_run_isolated_when_it_answers_then_its_folder_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    output = tmp_path / "out.zip"
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("small.csv", "n\n12\n")
    found = run_isolated(output, context_of("custom", min_cell=10), Limits())
    assert found[0].name == "file_type" and list(temp.iterdir()) == []


def test_watch_when_the_answer_exceeds_the_cap_then_drained_and_stopped_at_once() -> None:
    code = "import sys; sys.stdout.buffer.write(b'x' * (20 << 20))"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as child:
        try:
            with pytest.raises(ChecksStopped, match="answer too large"):
                _checks_process._watch(child, b"", Limits(wall_seconds=20))
        finally:
            child.kill()
    assert child.returncode == 0  # it finished writing: nobody waited for the wall limit


def test_parse_when_the_child_reports_an_internal_error_then_the_parents_fixed_message() -> None:
    answer = json.dumps({"internal": "residents row 17 holds 13912345678"}).encode()
    with pytest.raises(InternalError) as raised:
        _checks_process._parse(answer)
    assert str(raised.value) == "a stored dataset could not be read for the output checks"


def test_parse_when_a_reason_is_too_long_then_cut() -> None:
    answer = json.dumps({"checks": [{"name": "size", "verdict": "pass", "reason": "r" * 50_000}]})
    (check,) = _checks_process._parse(answer.encode())
    assert len(check.reason) == MAX_REASON


def test_run_checks_when_an_output_has_many_long_column_names_then_reasons_are_cut(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.parquet"
    names = tuple(f"count_of_{'x' * 60}_{i}" for i in range(300))
    pl.DataFrame({name: [40, 50] for name in names}).write_parquet(path)
    found = run_checks(path, context_of("aggregate", min_cell=10, count_columns=names))
    assert max(len(c.reason) for c in found) <= MAX_REASON
    assert any(c.reason.endswith("…") for c in found)


def test_scan_input_when_out_of_memory_then_no_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_memory(pattern: str) -> pl.LazyFrame:
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(_checks_rows.pl, "scan_parquet", no_memory)
    with pytest.raises(OSError) as raised:
        _checks_rows.scan_input("/data/residents/*.parquet")
    assert not isinstance(raised.value, InternalError)


def test_scan_input_when_the_dataset_is_missing_then_internal_error(tmp_path: Path) -> None:
    with pytest.raises(InternalError, match="stored dataset"):
        _checks_rows.scan_input(str(tmp_path / "none-*.parquet"))


def test_child_env_when_the_service_holds_a_secret_then_the_child_gets_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANDBOX_SECRET_KEY", "s3cret")
    monkeypatch.setenv("SANDBOX_DATABASE_URL", "postgresql://u:p@db/x")
    env = _checks_process._child_env()
    assert not any(name.startswith("SANDBOX_") for name in env)
    assert env["POLARS_MAX_THREADS"] == "2" and "PYTHONPATH" in env


def test_child_env_when_the_service_runs_elsewhere_then_the_child_imports_the_checks(
    tmp_path: Path,
):
    """A service started in another folder (``sandbox serve`` in its data folder): the
    child finds the top-level packages (``jobs``, not ``sandbox.jobs``) by its PYTHONPATH."""
    child = subprocess.run(
        [sys.executable, "-c", "import jobs.storage, sandbox.checks.process"],
        env=_checks_process._child_env(),
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert child.returncode == 0, child.stderr.decode()[-500:]
