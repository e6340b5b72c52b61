"""Hostile outputs against the checks: bombs stay bounded, the checks run in their own process.

Issue 13: a JSON expansion bomb took the API to 4 GiB, a Parquet decompression
bomb made its console preview read 300 million rows, the checks' work in the
API process showed in the API's answer times, and the sandbox's own zip of a
repetitive file failed as a zip bomb. Memory is measured in a fresh
interpreter (its peak resident size before and after the call), so the
suite's own memory does not blur it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from policies.errors import InternalError
from sandbox.checks import Check, blocking
from sandbox.checks.engine import run_checks
from sandbox.checks.process import ChecksStopped, Limits, run_isolated
from sandbox.checks.support.tables import MAX_TEXT_LINES
from sandbox.jobs import execute as job_service
from tests.unit.sandbox.checks.helpers import context_of

ROOT = Path(__file__).resolve().parents[4]


def _verdicts(found: list[Check]) -> dict[str, str]:
    return {c.name: c.verdict for c in found}


def _reason(found: list[Check], name: str) -> str:
    return next(c.reason for c in found if c.name == name)


def _sandbox_zip(path: Path, members: dict[str, bytes]) -> Path:
    """A zip as the sandbox packs a custom job's output (deflated, fixed dates)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def _peak_mib(code: str) -> tuple[int, Any]:
    """Run ``code`` (which sets ``result``) in a fresh interpreter: its peak RSS growth and result.

    The interpreter's address space is capped at 6 GiB, so a bomb that is not
    bounded fails the test with a MemoryError (or a kill) instead of taking the
    machine.
    """
    script = textwrap.dedent(
        """
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
        from pathlib import Path
        import polars, sandbox.checks.engine, sandbox.web.console.preview
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        """
    )
    script += textwrap.dedent(code)
    script += textwrap.dedent(
        """
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"mib": (after - before) // 1024, "result": result}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "POLARS_MAX_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, env=env, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    answer = json.loads(done.stdout.decode().splitlines()[-1])
    return int(answer["mib"]), answer["result"]


# --- JSON expansion bomb -----------------------------------------------------------------


def test_checks_when_json_expands_in_memory_then_refused_with_bounded_memory(
    tmp_path: Path,
) -> None:
    # 48 MB of small records: json.loads alone makes them about 1.5 GB of Python
    # objects, and the old walk a path string per value on top (the 4.1 GiB).
    bomb = tmp_path / "bomb.json"
    bomb.write_bytes(b"[" + b'{"a":[0,{"b":"xy"}]},' * 2_400_000 + b"0]")
    archive = _sandbox_zip(tmp_path / "out.zip", {"model.json": bomb.read_bytes()})
    assert archive.stat().st_size < bomb.stat().st_size // 100  # small on disk
    mib, verdicts = _peak_mib(
        f"""
        from sandbox.checks.engine import run_checks
        from tests.unit.sandbox.checks.helpers import context_of
        found = run_checks(Path({str(archive)!r}), context_of("custom", min_cell=10))
        result = {{c.name: [c.verdict, c.reason] for c in found}}
        """
    )
    assert mib < 400, f"the checks grew by {mib} MiB"
    assert verdicts["size"][0] == "fail"
    assert "'model.json'" in verdicts["size"][1] and "not checked" in verdicts["size"][1]


def test_checks_when_json_holds_more_strings_than_scanned_then_warn_naming_the_cut(
    tmp_path: Path,
) -> None:
    count = MAX_TEXT_LINES + 5000
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"weights": list(range(count))}))
    found = run_checks(path, context_of("train", min_cell=10))
    assert _verdicts(found)["pii_scan"] == "warn"
    reason = _reason(found, "pii_scan")
    assert f"scanned the first {MAX_TEXT_LINES} of {count + 1} lines" in reason


def test_checks_when_text_is_one_huge_line_then_read_in_pieces(tmp_path: Path) -> None:
    archive = _sandbox_zip(tmp_path / "out.zip", {"notes.txt": b"x" * (80 << 20)})
    mib, verdicts = _peak_mib(
        f"""
        from sandbox.checks.engine import run_checks
        from tests.unit.sandbox.checks.helpers import context_of
        found = run_checks(Path({str(archive)!r}), context_of("custom", min_cell=10))
        result = {{c.name: [c.verdict, c.reason] for c in found}}
        """
    )
    assert mib < 1200, f"the checks grew by {mib} MiB"
    assert verdicts["pii_scan"][0] == "warn"
    assert "scanned the first" in verdicts["pii_scan"][1]


# --- Parquet decompression bomb ----------------------------------------------------------


@pytest.fixture(scope="module")
def parquet_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 million zero rows in a few hundred kilobytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path_factory.mktemp("bomb") / "zeros.parquet"
    batch = pa.table({"z": pa.array(np.zeros(5_000_000, dtype=np.int64))})
    with pq.ParquetWriter(path, batch.schema, compression="zstd") as writer:
        for _ in range(12):
            writer.write_table(batch)
    assert path.stat().st_size < 2_000_000
    return path


def test_preview_when_zip_member_is_a_parquet_bomb_then_reads_only_the_first_rows(
    tmp_path: Path, parquet_bomb: Path
) -> None:
    archive = _sandbox_zip(tmp_path / "out.zip", {"zeros.parquet": parquet_bomb.read_bytes()})
    mib, shown = _peak_mib(
        f"""
        from sandbox.web.console.preview import zip_members
        member = zip_members(Path({str(archive)!r}))[0]
        result = [len(member.table.rows), member.table.total_rows]
        """
    )
    assert mib < 64, f"the preview grew by {mib} MiB"
    assert shown == [20, 60_000_000]


def test_preview_when_parquet_output_is_a_bomb_then_reads_only_the_first_rows(
    parquet_bomb: Path,
) -> None:
    mib, shown = _peak_mib(
        f"""
        from sandbox.web.console.preview import parquet_table, read_table
        table = parquet_table(Path({str(parquet_bomb)!r}))
        result = [len(table.rows), table.total_rows, read_table(Path({str(parquet_bomb)!r}))]
        """
    )
    assert mib < 64, f"the preview grew by {mib} MiB"
    assert shown == [20, 60_000_000, None]  # not an aggregate's table: not read whole


def test_checks_when_parquet_is_a_bomb_then_size_fails_with_bounded_memory(
    tmp_path: Path, parquet_bomb: Path
) -> None:
    archive = _sandbox_zip(tmp_path / "out.zip", {"zeros.parquet": parquet_bomb.read_bytes()})
    mib, verdicts = _peak_mib(
        f"""
        from sandbox.checks.engine import run_checks
        from tests.unit.sandbox.checks.helpers import context_of
        found = run_checks(Path({str(archive)!r}), context_of("custom", min_cell=10))
        result = {{c.name: [c.verdict, c.reason] for c in found}}
        """
    )
    assert mib < 700, f"the checks grew by {mib} MiB"
    assert verdicts["size"][0] == "fail"
    assert "60000000 rows exceed the cap" in verdicts["size"][1]


def test_checks_when_parquet_repeats_one_long_string_on_every_row_then_size_fails(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # One 100 KB string in the dictionary, 200,000 rows pointing at it: 20 GB of text.
    column = pa.DictionaryArray.from_arrays(
        pa.array([0] * 200_000, type=pa.int32()), pa.array(["x" * 100_000])
    )
    path = tmp_path / "long.parquet"
    pq.write_table(pa.table({"s": column}), path, compression="zstd", store_schema=False)
    archive = _sandbox_zip(tmp_path / "out.zip", {"long.parquet": path.read_bytes()})
    mib, verdicts = _peak_mib(
        f"""
        from sandbox.checks.engine import run_checks
        from tests.unit.sandbox.checks.helpers import context_of
        found = run_checks(Path({str(archive)!r}), context_of("custom", min_cell=10))
        result = {{c.name: [c.verdict, c.reason] for c in found}}
        """
    )
    assert mib < 700, f"the checks grew by {mib} MiB"
    assert verdicts["size"][0] == "fail"
    assert "'long.parquet' holds" in verdicts["size"][1] and "not checked" in verdicts["size"][1]


def test_checks_when_a_wide_table_exceeds_the_cells_then_size_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.checks.support import tables as _checks_tables

    monkeypatch.setattr(_checks_tables, "MAX_CELLS", 1000)
    frame = pl.DataFrame({f"c{i}": list(range(100)) for i in range(20)})
    path = tmp_path / "out.parquet"
    frame.write_parquet(path)
    archive = _sandbox_zip(tmp_path / "out.zip", {"wide.parquet": path.read_bytes()})
    found = run_checks(archive, context_of("custom", min_cell=10))
    assert _verdicts(found)["size"] == "fail"
    assert "only its first 50 rows" in _reason(found, "size")


# --- the sandbox's own zip ---------------------------------------------------------------


def test_file_type_when_sandbox_zip_of_a_repetitive_json_compresses_well_then_pass(
    tmp_path: Path,
) -> None:
    zeros = json.dumps([0] * 8_000_000, separators=(",", ":")).encode()  # 16 MB
    archive = _sandbox_zip(tmp_path / "out.zip", {"zeros.json": zeros})
    with zipfile.ZipFile(archive) as opened:
        info = opened.infolist()[0]
        assert info.file_size / info.compress_size > 1000  # what the old rule called a bomb
    found = run_checks(archive, context_of("custom", min_cell=10))
    assert _verdicts(found)["file_type"] == "pass", _reason(found, "file_type")
    assert _verdicts(found)["size"] == "pass"


def test_file_type_when_member_unpacks_past_its_declared_size_then_not_extracted(
    tmp_path: Path,
) -> None:
    # The bound on a zip member is its declared size and the byte cap, whatever its ratio.
    archive = _sandbox_zip(tmp_path / "out.zip", {"a.txt": b"0" * 100_000})
    data = bytearray(archive.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 22 : local + 26] = (1000).to_bytes(4, "little")  # declared: 1000 bytes
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    found = run_checks(archive, context_of("custom", min_cell=10))
    assert _verdicts(found)["file_type"] == "fail"
    assert "'a.txt' cannot be read" in _reason(found, "file_type")


# --- the checks' own process -------------------------------------------------------------


def _small_output(tmp_path: Path) -> Path:
    path = tmp_path / "out.parquet"
    pl.DataFrame({"city": ["南京市"] * 30, "count": [40] * 30}).write_parquet(path)
    return path


def test_run_isolated_when_output_is_ordinary_then_same_checks_as_in_process(
    tmp_path: Path,
) -> None:
    path = _small_output(tmp_path)
    context = context_of("aggregate", min_cell=10, count_columns=("count",))
    assert run_isolated(path, context, Limits()) == run_checks(path, context)


def test_run_isolated_when_the_child_needs_more_memory_than_allowed_then_stopped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"w": [f"s{i}" for i in range(3_000_000)]}))
    with pytest.raises(ChecksStopped, match="MiB of memory"):
        run_isolated(path, context_of("train", min_cell=10), Limits(memory_bytes=250 << 20))


def test_run_isolated_when_the_child_runs_past_its_time_then_killed_and_stopped(
    tmp_path: Path,
) -> None:
    with pytest.raises(ChecksStopped, match=r"longer than 0\.2 s"):
        run_isolated(
            _small_output(tmp_path),
            context_of("aggregate", min_cell=10),
            Limits(wall_seconds=0.2),
        )


def test_run_isolated_when_a_stored_dataset_is_unreadable_then_internal_error(
    tmp_path: Path,
) -> None:
    context = context_of(
        "aggregate", min_cell=10, inputs={"residents": str(tmp_path / "none-*.parquet")}
    )
    with pytest.raises(InternalError, match="stored dataset"):
        run_isolated(_small_output(tmp_path), context, Limits())


def test_checked_when_the_checks_process_is_stopped_then_one_failing_check(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"w": [f"s{i}" for i in range(3_000_000)]}))
    found = job_service.checked(
        7, path, context_of("train", min_cell=10), Limits(memory_bytes=250 << 20)
    )
    assert [(c.name, c.verdict) for c in found] == [("checks", "fail")]
    assert "memory" in found[0].reason and "look at it before deciding" in found[0].reason
    assert blocking([c.as_dict() for c in found]) == ["checks"]
    assert "s1234" not in caplog.text + found[0].reason
