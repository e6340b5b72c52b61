"""Free-text scans spread over Ray find exactly what the in-process scan finds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from anonymize.detect.vector import scan_table as in_process
from jobs.scan import scan_table

pytestmark = pytest.mark.ray
NOTES = Path(__file__).resolve().parents[1] / "data" / "blind_notes_2026_12_05.txt"


def _table() -> pl.DataFrame:
    """Blind notes (labels removed) beside structured columns and short texts."""
    lines = NOTES.read_text(encoding="utf-8").splitlines()
    notes = [re.sub(r"\[[A-Z_]+:([^\]]*)\]", r"\1", line) for line in lines if line.strip()]
    n = len(notes)
    return pl.DataFrame(
        {
            "phone": [str(13800000000 + 7919 * i) for i in range(n)],
            "note": notes,
            "age": list(range(n)),
            "name": ["张伟", None, "李娜"] * (n // 3) + ["王芳"] * (n % 3),
            "memo": [None if i % 4 else notes[-1 - i] for i in range(n)],
        }
    )


def _inside_a_task(table: Any, columns: list[str]) -> Any:
    """What an extract's Ray task does: scan its table, spreading the free text further."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return scan_table(frame, columns, in_process_below=1, task_cells=1).to_arrow()


def test_scan_table_when_spread_over_ray_then_findings_equal_in_process(
    ray_runner: object,
) -> None:
    frame = _table()
    expected = in_process(frame)
    assert expected.filter(pl.col("column") == "note").height  # the notes hold findings
    spread = scan_table(frame, in_process_below=1, task_cells=1)
    assert spread.equals(expected)


def test_scan_table_when_called_inside_a_ray_task_then_findings_equal_in_process(
    ray_runner: object,
) -> None:
    import ray

    frame = _table()
    some = ["memo", "age", "note"]  # a subset, in another order
    found = pl.from_arrow(ray.get(ray.remote(_inside_a_task).remote(frame.to_arrow(), some)))
    assert isinstance(found, pl.DataFrame)
    assert found.equals(in_process(frame, some))


def test_scan_file_lines_when_ray_up_then_slices_on_ray_and_lines_equal(
    ray_runner: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jobs.scan
    from sandbox.catalog.pii import scan_file_lines

    frame = _table().select("note", "age")
    frame.write_parquet(tmp_path / "notes.parquet")
    expected = list(scan_file_lines(tmp_path / "notes.parquet", batch_rows=50))
    submitted: list[int] = []
    remote = jobs.scan._remote

    def counted() -> Any:
        submitted.append(1)
        return remote()

    monkeypatch.setattr(jobs.scan, "IN_PROCESS_CELLS", 1)
    monkeypatch.setattr(jobs.scan, "TASK_CELLS", 1)
    monkeypatch.setattr(jobs.scan, "_remote", counted)
    assert list(scan_file_lines(tmp_path / "notes.parquet", batch_rows=50)) == expected
    assert submitted and expected
