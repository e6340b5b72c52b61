"""Small cells and identifier-like columns in an output's tables.

Used by the ``small_cells`` and ``identifier_columns`` checks. Small cells:
declared count columns of statistics (histogram bins included), count-like
columns of other tables, and the equivalence classes of records over their
quasi-identifiers. Identifier columns: a column nearly unique per row looks
like a key that links the output back to people; a public key whose every
value lies in its declared domain is none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import polars as pl

from policies.catalog import ColumnTag, Product
from sandbox.checks.base import Verdict
from sandbox.checks.support.rows import as_text

#: A column is nearly unique when its distinct share of non-null cells exceeds this ...
UNIQUE_SHARE = 0.9
#: ... over at least this many cells.
MIN_UNIQUE_ROWS = 50
#: Share of a direct identifier's values an output column may hold: none, up to sampling noise.
MAX_IDENTIFIER_OVERLAP = 0.1

_INTEGER_TEXT = r"^\s*[+-]?[0-9]+\s*$"
#: Names that say a column counts people or records.
_COUNT_NAME = re.compile(
    r"(^(n|cnt|num|freq|total|size)$|count|number|频数|人数|数量|计数|户数|人次|次数|件数)",
    re.IGNORECASE,
)
#: Names of integer columns that are keys, not counts (a month, an age, a code).
_KEY_NAME = re.compile(
    r"(year|month|day|week|hour|quarter|age|code|id$|rank|level|grade|bin|group|"
    r"年|月|日|周|岁|年龄|编码|代码|等级|序号)",
    re.IGNORECASE,
)


def integers(frame: pl.DataFrame, column: str) -> pl.Series | None:
    """The column as integers, when every non-null cell is one (CSV text included)."""
    series = frame[column]
    if series.dtype.is_integer():
        return series
    if series.dtype == pl.String and _all(series.str.contains(_INTEGER_TEXT)):
        # Integers past the Int64 range become null: too large to be a small count.
        return series.str.strip_chars().cast(pl.Int64, strict=False)
    return None


def _all(matches: pl.Series) -> bool:
    """Whether every non-null cell matched, and there is at least one."""
    cells = matches.drop_nulls()
    return cells.len() > 0 and bool(cells.all())


def count_like(frame: pl.DataFrame) -> list[str]:
    """Columns of a table that look like counts (see :func:`small_counts`).

    A column of non-negative integers is a count when its name says so, or
    when the table also has a text key column and its name is not a key's
    (year, month, age, code …).

    >>> count_like(pl.DataFrame({"city": ["a", "b"], "month": [1, 2], "n": [5, 9]}))
    ['n']
    """
    numbers = {c: s for c in frame.columns if (s := integers(frame, c)) is not None}
    has_key = any(c not in numbers and frame[c].dtype == pl.String for c in frame.columns)
    found = []
    for column, values in numbers.items():
        if values.drop_nulls().lt(0).any():
            continue
        if _COUNT_NAME.search(column) or (has_key and not _KEY_NAME.search(column)):
            found.append(column)
    return found


def small_counts(frame: pl.DataFrame, columns: Iterable[str], min_cell: int, zero: bool) -> int:
    """Cells of ``columns`` below ``min_cell`` (every bin of a histogram is a cell).

    Nulls are suppressed cells, never small. ``zero``: whether a zero counts as
    small (a noisy zero of statistics does; a structural zero of a program's
    table shows nobody).
    """
    low = 0 if zero else 1
    small = 0
    for column in columns:
        if column not in frame.columns:
            continue
        dtype = frame.schema[column]
        if isinstance(dtype, pl.Array):
            cells = frame[column].arr.explode()
        elif isinstance(dtype, pl.List):
            cells = frame[column].list.explode()
        else:
            parsed = integers(frame, column)
            cells = frame[column] if parsed is None else parsed
        cells = cells.drop_nulls()
        below = cells < min_cell if zero else (cells >= low) & (cells < min_cell)
        small += int(below.sum())
    return small


def small_classes(frame: pl.DataFrame, quasi: list[str], k: int) -> tuple[int, int]:
    """Equivalence classes over ``quasi`` smaller than ``k``: (classes, rows in them)."""
    sizes = frame.group_by(quasi).len()
    small = sizes.filter(pl.col("len") < k)
    return small.height, int(small["len"].sum())


def nearly_unique(frame: pl.DataFrame, skip: frozenset[str]) -> list[str]:
    """String or integer columns with more than 90 % distinct values over at least 50 cells.

    Text that reads as fractional numbers (a CSV's means and sums) is a
    measure, not a key.
    """
    found = []
    for column in frame.columns:
        series = frame[column]
        if column in skip or not (series.dtype == pl.String or series.dtype.is_integer()):
            continue
        if series.dtype == pl.String and not _all(series.str.contains(_INTEGER_TEXT)):
            numbers = series.str.strip_chars().cast(pl.Float64, strict=False)
            if numbers.null_count() == series.null_count():
                continue
        cells = series.len() - series.null_count()
        if cells >= MIN_UNIQUE_ROWS and series.drop_nulls().n_unique() > UNIQUE_SHARE * cells:
            found.append(column)
    return found


def judge_identifier(
    column: str,
    product: Product,
    best: Mapping[str, tuple[str, tuple[str, float]]],
    direct: Mapping[str, str],
    pseudonyms: frozenset[str],
) -> tuple[Verdict, str]:
    """Verdict and reason for one nearly-unique column.

    Args:
        column: The output column.
        product: What the job releases.
        best: Output column -> (dataset, (input column, overlap)) of its best
            match in any input.
        direct: Direct-identifier input column -> its dataset.
        pseudonyms: Columns a records output pseudonymized.
    """
    dataset, (source, share) = best.get(column, ("", ("", 0.0)))
    if source in direct and direct[source] == dataset and share >= MAX_IDENTIFIER_OVERLAP:
        return "fail", (
            f"'{column}' holds values of direct identifier '{source}' of dataset '{dataset}' "
            f"({share:.0%} of sampled values)"
        )
    if product is Product.STATISTICS:
        return "pass", f"'{column}' is nearly unique: a group key (one row per group)"
    if product is Product.RECORDS and (column in pseudonyms or column in direct):
        return "warn", f"'{column}' is nearly unique: pseudonyms (linkage allowed by the grant)"
    if column in direct:
        return "fail", (
            f"'{column}' is nearly unique and named after direct identifier '{column}' of "
            f"dataset '{direct[column]}': a hash or encoding of it cannot be released"
        )
    return "warn", f"'{column}' is nearly unique per row: looks like an identifier"


def direct_identifiers(tags: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Direct-identifier columns of every input, to their dataset."""
    return {
        column: dataset
        for dataset, columns in tags.items()
        for column, tag in columns.items()
        if tag == ColumnTag.DIRECT_IDENTIFIER.value
    }


def quasi_identifiers(tags: Mapping[str, Mapping[str, str]]) -> set[str]:
    """Quasi-identifier columns of every input."""
    return {
        column
        for columns in tags.values()
        for column, tag in columns.items()
        if tag == ColumnTag.QUASI_IDENTIFIER.value
    }


def in_domain(frame: pl.DataFrame, public_keys: Mapping[str, Sequence[object]]) -> list[str]:
    """Public-key columns of ``frame`` whose every value lies in the declared domain."""
    inside = []
    for column, domain in public_keys.items():
        if column not in frame.columns or frame.schema[column].is_nested():
            continue
        allowed = pl.Series([str(v) for v in domain], dtype=pl.String)
        values = frame.select(as_text(column, frame.schema[column])).to_series().drop_nulls()
        if values.is_in(allowed.implode()).all():
            inside.append(column)
    return inside
