"""Automatic disclosure checks run on every output before a steward sees it.

Each check yields a verdict (``pass``, ``warn`` or ``fail``) and a reason a
reviewer can read; a ``fail`` blocks approval. Reasons carry counts and
column names, never values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from anonymize.scan import scan_frame

Verdict = Literal["pass", "warn", "fail"]
#: Largest table an aggregate output may be; more rows is no longer an aggregate.
MAX_OUTPUT_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class Check:
    """One automatic check's verdict."""

    name: str
    verdict: Verdict
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Found by dictionaries and context, not checksums: a finding warns, it does not block.
CONTEXTUAL = frozenset({"PERSON", "CN_ADDRESS"})


def run_checks(
    path: Path,
    count_columns: list[str],
    min_cell: int,
    public_columns: frozenset[str] = frozenset(),
) -> list[Check]:
    """Check a quarantined Parquet output.

    Args:
        path: The output file.
        count_columns: Columns holding (noisy) counts.
        min_cell: The smallest count a released cell may show.
        public_columns: Group keys whose values come from a declared public
            domain (e.g. the 13 cities): not scanned for identifiers.
    """
    try:
        table = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError):
        return [Check("file_type", "fail", "the output is not a readable Parquet table")]
    checks = [Check("file_type", "pass", "Parquet table")]
    if table.height > MAX_OUTPUT_ROWS:
        checks.append(
            Check("size", "fail", f"{table.height} rows exceed the cap of {MAX_OUTPUT_ROWS}")
        )
    else:
        checks.append(Check("size", "pass", f"{table.height} rows, {table.width} columns"))

    findings = scan_frame(table.drop(public_columns & set(table.columns)))
    if findings:
        columns = sorted({f.column for f in findings})
        entities = sorted({f.entity for f in findings})
        verdict: Verdict = "warn" if set(entities) <= CONTEXTUAL else "fail"
        checks.append(
            Check(
                "pii_scan",
                verdict,
                f"{len(findings)} findings ({', '.join(entities)}) in columns {', '.join(columns)}",
            )
        )
    else:
        checks.append(Check("pii_scan", "pass", "no personal identifier found"))

    small = 0
    for column in count_columns:
        if column not in table.columns:
            continue
        dtype = table.schema[column]
        if isinstance(dtype, pl.Array):  # a histogram: every bin is a count
            smallest = pl.col(column).arr.min()
        elif isinstance(dtype, pl.List):
            smallest = pl.col(column).list.min()
        else:
            smallest = pl.col(column)
        small += table.filter(smallest < min_cell).height
    if small:
        checks.append(Check("small_cells", "fail", f"{small} cells show a count below {min_cell}"))
    else:
        checks.append(Check("small_cells", "pass", f"every count is at least {min_cell}"))
    return checks


def blocking(checks: list[dict[str, Any]]) -> list[str]:
    """Names of the checks that block approval."""
    return [c["name"] for c in checks if c["verdict"] == "fail"]
