"""Scans of a job's tables: where the free text goes (without Ray here; Ray: integration)."""

from __future__ import annotations

import doctest
import itertools

import polars as pl
import pytest

import jobs.scan
from anonymize.detect.vector import scan_table as in_process
from jobs.scan import row_cuts, scan_table


def test_row_cuts_when_work_uneven_then_slices_hold_near_equal_work() -> None:
    per_row = pl.Series([0, 3, 0, 0, 1, 1, 1, 0, 2, 0], dtype=pl.UInt32)
    cuts = row_cuts(per_row, 3)
    assert cuts[0] == 0 and cuts[-1] == per_row.len()
    work = [int(per_row.slice(a, b - a).sum()) for a, b in itertools.pairwise(cuts)]
    assert sum(work) == 8 and max(work) <= 3


def test_row_cuts_when_one_part_or_no_work_then_whole_table() -> None:
    assert row_cuts(pl.Series([1, 2, 3]), 1) == [0, 3]
    assert row_cuts(pl.Series([0, 0]), 4) == [0, 2]


def test_scan_table_when_ray_not_up_then_in_process_and_equal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_ray() -> object:
        raise AssertionError("Ray is not up: nothing may be submitted")

    monkeypatch.setattr(jobs.scan, "_ray_up", lambda: False)
    monkeypatch.setattr(jobs.scan, "_remote", no_ray)
    frame = pl.DataFrame({"note": ["刚跟吴颖通了电话，她说明天上午到，手机13912345678。"] * 3})
    found = scan_table(frame, in_process_below=1, task_cells=1)
    assert found.equals(in_process(frame)) and found.height


def test_scan_doctests_when_run_then_they_pass() -> None:
    assert doctest.testmod(jobs.scan).failed == 0
