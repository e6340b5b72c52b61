"""Scan outputs for personal information that must not leave the sandbox.

The airlock runs :func:`scan_frame` over every output table before a steward
sees it, and :func:`scan_file` reads an output of any type (CSV, Parquet,
JSON, JSON lines, plain text). Both run the vectorized path
(:func:`anonymize.detect.vector.scan_table`) for every entity of
:data:`~anonymize.detect.entities.ENTITIES`. Findings name the column, the row and the
entity type, never the value.

One difference from the cell-level scan: a bare name-shaped cell (a surname
and one or two characters, no context word) is weak evidence (a finding
below its entity's
:attr:`~anonymize.detect.entity.EntityDefinition.weak_below`). Aggregate
outputs are full of labels like 连云港, 宿迁 or 钟山 that jieba's dictionary
itself tags as names; such findings count only where at least half of a
column's cells are names, as in a leaked name column. Names with context
(姓名, 联系人, 先生 …) always count.

Column names are scanned too: a pivoted output can carry names or IDs as
headers. A header finding has ``row`` -1 ("the header") and names the column;
bare name-shaped headers count only where at least half of the headers are
names, the rule for cells.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from anonymize.detect.entities import ENTITIES
from anonymize.detect.entities.resident_id import is_resident_id
from anonymize.detect.findings import FINDINGS_SCHEMA
from anonymize.detect.vector import scan_table

__all__ = [
    "HEADER_ROW",
    "Finding",
    "header_findings",
    "is_resident_id",
    "scan_file",
    "scan_frame",
    "without_stray_names",
]

#: The ``row`` of a finding in a column's name rather than in a cell.
HEADER_ROW = -1

#: Share of a column's non-null cells that must be names for weak findings to count.
MIN_NAME_SHARE = 0.5

_CSV = {".csv": ",", ".tsv": "\t"}
_PARQUET = {".parquet", ".pq"}
_JSON_LINES = {".jsonl", ".ndjson"}


@dataclass(frozen=True, slots=True)
class Finding:
    """A cell (or, with ``row`` -1, a column name) holding personal information; no value."""

    column: str
    row: int
    entity: str


def scan_frame(frame: pl.DataFrame, max_findings: int = 1000) -> list[Finding]:
    """Find personal information in every column of ``frame`` and in the column names.

    A cell with several matches of one entity yields one finding.

    Args:
        frame: Any table (see :func:`anonymize.detect.vector.scan_table` for the types
            scanned).
        max_findings: Stop after this many findings (the verdict is already "fail").

    Returns:
        Findings in column order, then row order (the header, row -1, first),
        then the position of the first match in the cell; weak names only
        where they fill a column or the headers (see the module docstring).

    Example:
        >>> found = scan_frame(pl.DataFrame({"区县": ["玄武区"], "13912345678": [3]}))
        >>> [(f.column, f.row) for f in found]  # a phone number in a header
        [('13912345678', -1)]
    """
    found = _with_headers(without_stray_names(scan_table(frame), frame), frame)
    found = found.unique(subset=["column", "row", "entity"], keep="first", maintain_order=True)
    return [
        Finding(column, row, entity)
        for column, row, entity in found.head(max_findings)
        .select("column", "row", "entity")
        .iter_rows()
    ]


def header_findings(frame: pl.DataFrame) -> pl.DataFrame:
    """Personal information in the column names of ``frame``, as findings with ``row`` -1.

    Offsets point into the name. Weak (bare) names count only where at least
    half of the names are names, as for the cells of a column.

    Returns:
        Findings with :data:`~anonymize.detect.findings.FINDINGS_SCHEMA`, in column order.
    """
    headers = pl.DataFrame({"header": frame.columns}, schema={"header": pl.String})
    found = without_stray_names(scan_table(headers), headers)
    return found.with_columns(
        pl.lit(pl.Series(frame.columns, dtype=pl.String)).get(pl.col("row")).alias("column"),
        pl.lit(HEADER_ROW, dtype=pl.Int64).alias("row"),
    ).select(list(FINDINGS_SCHEMA))


def _with_headers(findings: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """``findings`` and the header findings of ``frame``, in column order, the header first."""
    order = pl.col("column").replace_strict(
        frame.columns, range(frame.width), return_dtype=pl.Int64
    )
    both = pl.concat([header_findings(frame), findings.select(list(FINDINGS_SCHEMA))])
    return both.sort(order, pl.col("row"), maintain_order=True)


def without_stray_names(findings: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """Drop weak findings (bare names) in columns where they are the exception, not the rule.

    Args:
        findings: What :func:`anonymize.detect.vector.scan_table` found in ``frame``.
        frame: The table scanned.
    """
    weak = _weak()
    cells = {c: frame.height - frame[c].null_count() for c in frame.columns}
    named = findings.filter(weak).group_by("column").agg(pl.col("row").n_unique().alias("n"))
    full = [c for c, n in named.iter_rows() if n >= MIN_NAME_SHARE * max(cells.get(c, 0), 1)]
    return findings.filter(~weak | pl.col("column").is_in(full))


def _weak() -> pl.Expr:
    """Whether a finding is below its entity's ``weak_below`` (never for the others)."""
    weak: pl.Expr = pl.lit(False)
    for entity in ENTITIES:
        if entity.weak_below is not None:
            below = (pl.col("entity") == entity.name) & (pl.col("score") < entity.weak_below)
            weak = weak | below
    return weak


def _lines(path: Path) -> pl.DataFrame:
    """A text file as rows of one column ``text``, one row per line."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return pl.DataFrame({"text": text.splitlines()}, schema={"text": pl.String})


def _json(path: Path) -> pl.DataFrame:
    """A JSON document as a table: an array of records, one record, or else its text."""
    try:
        document = json.loads(path.read_bytes().decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        return _lines(path)
    if isinstance(document, dict):
        document = [document]
    if isinstance(document, list) and document and all(isinstance(d, dict) for d in document):
        try:
            return pl.from_dicts(document, infer_schema_length=None)
        except (pl.exceptions.PolarsError, TypeError, ValueError):
            pass
    # Anything else (a list of strings, nested arrays …): scan each element's JSON text.
    items = document if isinstance(document, list) else [document]
    rendered = [i if isinstance(i, str) else json.dumps(i, ensure_ascii=False) for i in items]
    return pl.DataFrame({"text": rendered}, schema={"text": pl.String})


def read_output(path: Path) -> pl.DataFrame:
    """Read an output file as a table to scan; what is not a table is read as text lines.

    CSV and TSV are read with every column as text, so that a number keeps
    its digits as written (no float rounding of a 19-digit card).
    """
    suffix = path.suffix.lower()
    try:
        if suffix in _CSV:
            return pl.read_csv(
                path,
                separator=_CSV[suffix],
                infer_schema=False,
                encoding="utf8-lossy",
                truncate_ragged_lines=True,
            )
        if suffix in _PARQUET:
            return pl.read_parquet(path)
        if suffix in _JSON_LINES:
            return pl.read_ndjson(path, infer_schema_length=None)
    except pl.exceptions.PolarsError:
        return _lines(path)
    if suffix == ".json":
        return _json(path)
    return _lines(path)


def scan_file(path: str | Path) -> pl.DataFrame:
    """Find personal information in an output file of any type.

    Args:
        path: A CSV / TSV, Parquet, JSON, JSON lines or any other file; the
            last is scanned as UTF-8 text, one row per line, in one column
            named ``text``. A file that fails to parse as its suffix says is
            scanned as text too.

    Returns:
        Findings with :data:`~anonymize.detect.findings.FINDINGS_SCHEMA`; ``row`` is
        the record (or line) number from 0 and offsets point into the cell, or
        -1 for a finding in a column name (offsets into the name). Weak names
        count only where they fill a column, as in :func:`scan_frame`.

    Raises:
        OSError: The file cannot be read.
    """
    table = read_output(Path(path))
    if not table.width:
        return pl.DataFrame(schema=FINDINGS_SCHEMA)
    return _with_headers(without_stray_names(scan_table(table), table), table)
