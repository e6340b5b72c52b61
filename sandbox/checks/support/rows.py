"""Raw-row smuggling: do an output's rows copy input records?

Used by the ``raw_rows`` and ``identifier_columns`` checks. Two passes over
each input dataset, both lazy and streaming, so memory follows the output's
size, not the input's:

1. **Column matching.** Names can be changed and columns re-ordered, so every
   output column is matched by content: a sample of its distinct values is
   looked up in every input column (``is_in`` on the sample, then ``unique``),
   and the output column is paired with the input column holding the largest
   share of the sample (at least :data:`MIN_OVERLAP`; a same-named column wins
   ties). Pairs are one to one, best first.
2. **Singling out.** Each output row's matched values are hashed in the
   input's column order; the input's rows are hashed the same way, kept only
   when their hash occurs in the output (a semi-join), and counted by hash.
   An output row singles out a record when its combination of values occurs
   in at least one and fewer than ``max(min_cell, 2)`` input rows.

Values are compared as text, whole floats as integers, so a CSV's ``"35"``
meets a Parquet ``35``. Polars' ``hash`` is not stable across versions, which
does not matter here: both sides are hashed in one process.
"""

from __future__ import annotations

import errno
import math
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from jobs import storage
from policies.catalog import ColumnTag, Product
from policies.errors import InternalError
from sandbox.checks.support.verdict import Verdict

#: Share of an output column's sampled values an input column must hold to match it.
MIN_OVERLAP = 0.8
#: Distinct values sampled per output column.
SAMPLE = 2000
#: Single-out rows tolerated as coincidence: this many, or this share of the output.
COINCIDENCES = 2
COINCIDENCE_SHARE = 0.01

_NULL = "\x00"
_SEPARATOR = "\x1f"
IDENTIFYING = frozenset({ColumnTag.DIRECT_IDENTIFIER.value, ColumnTag.QUASI_IDENTIFIER.value})


@dataclass(frozen=True, slots=True)
class Matching:
    """How one output table's columns meet one input dataset's columns.

    Attributes:
        dataset: The input dataset.
        pairs: Output column -> input column, one to one, by content.
        best: Output column -> (input column, overlap) of its best match,
            whether paired or not.
    """

    dataset: str
    pairs: Mapping[str, str]
    best: Mapping[str, tuple[str, float]]


@dataclass(frozen=True, slots=True)
class RowVerdict:
    """The smuggling verdict of one table against one dataset."""

    verdict: Verdict
    reason: str


def as_text(column: str, dtype: pl.DataType) -> pl.Expr:
    """A column as comparable text: whole floats as integers, durations as their count of
    time units (polars casts no duration to text), other scalars cast."""
    value = pl.col(column)
    if isinstance(dtype, pl.Duration):
        return value.cast(pl.Int64).cast(pl.String).alias(column)
    if dtype.is_float():
        whole = value.is_finite() & (value == value.floor())
        value = pl.when(whole).then(value.cast(pl.Int64, strict=False).cast(pl.String))
        return value.otherwise(pl.col(column).cast(pl.String)).alias(column)
    return value.cast(pl.String).alias(column)


def comparable(schema: Mapping[str, pl.DataType]) -> list[str]:
    """Columns whose values can be compared as text (scalars, not nested or binary)."""
    return [
        name
        for name, dtype in schema.items()
        if not (dtype.is_nested() or isinstance(dtype, pl.Binary | pl.Object | pl.Null))
    ]


def scan_input(pattern: str) -> pl.LazyFrame:
    """The stored parts of a dataset, lazily.

    Raises:
        InternalError: The stored dataset cannot be read.
        OSError: Out of memory (``ENOMEM``): no fault of the dataset, the checks break.
    """
    try:
        lazy = storage.scan_parquet(pattern)  # local or in object storage
        lazy.collect_schema()
    except OSError as err:
        if err.errno == errno.ENOMEM:
            raise  # the checks' process ran out of memory: a failing verdict, not the service's
        raise InternalError("a stored dataset could not be read for the output checks") from err
    except pl.exceptions.PolarsError as err:
        raise InternalError("a stored dataset could not be read for the output checks") from err
    return lazy


def match_columns(
    frame: pl.DataFrame, candidates: list[str], dataset: str, lazy: pl.LazyFrame
) -> Matching:
    """Pair output columns with the input columns whose values they hold (see module doc)."""
    schema = lazy.collect_schema()
    inputs = comparable(schema)
    samples: dict[str, set[str]] = {}
    for column in candidates:
        values = frame.select(as_text(column, frame.schema[column])).to_series()
        samples[column] = set(values.drop_nulls().unique().head(SAMPLE).to_list())
    wanted = pl.Series(sorted(set().union(*samples.values())), dtype=pl.String)
    if not wanted.len() or not inputs:
        return Matching(dataset, {}, {})
    found = (
        lazy.select(
            as_text(c, schema[c])
            .filter(as_text(c, schema[c]).is_in(wanted.implode()))
            .unique()
            .implode()
            for c in inputs
        )
        .collect(engine="streaming")
        .row(0, named=True)
    )
    held = {c: set(found[c] or ()) for c in inputs}
    scored: list[tuple[float, bool, str, str]] = []
    best: dict[str, tuple[str, float]] = {}
    for out, sample in samples.items():
        if not sample:
            continue
        for inp in inputs:
            share = len(sample & held[inp]) / len(sample)
            if share > best.get(out, ("", 0.0))[1]:
                best[out] = (inp, share)
            if share >= MIN_OVERLAP:
                scored.append((share, out == inp, out, inp))
    pairs: dict[str, str] = {}
    for _, _, out, inp in sorted(scored, reverse=True):
        if out not in pairs and inp not in pairs.values():
            pairs[out] = inp
    return Matching(dataset, pairs, best)


def singled_out(
    frame: pl.DataFrame, pairs: Mapping[str, str], lazy: pl.LazyFrame, min_cell: int
) -> int:
    """Output rows whose matched values occur in 1 to ``max(min_cell, 2) - 1`` input rows."""
    if not pairs:
        return 0
    schema = lazy.collect_schema()
    outs = sorted(pairs, key=lambda c: pairs[c])
    out_hash = frame.select(_row_hash([as_text(c, frame.schema[c]) for c in outs])).to_series()
    ins = [as_text(pairs[c], schema[pairs[c]]) for c in outs]
    counts = (
        lazy.select(_row_hash(ins))
        .filter(pl.col("h").is_in(out_hash.unique().implode()))
        .group_by("h")
        .agg(pl.len().alias("n"))
        .collect(engine="streaming")
    )
    joined = out_hash.to_frame().join(counts, on="h", how="left")
    return joined.filter(pl.col("n").is_between(1, max(min_cell, 2) - 1)).height


def _row_hash(texts: list[pl.Expr]) -> pl.Expr:
    filled = [t.fill_null(_NULL) for t in texts]
    return pl.concat_str(filled, separator=_SEPARATOR).hash().alias("h")


def judge(
    product: Product,
    table: str,
    rows: int,
    matching: Matching,
    tags: Mapping[str, str],
    singled: int,
) -> RowVerdict:
    """The verdict for ``singled`` single-out rows of ``table`` over ``matching``'s pairs."""
    pairs = matching.pairs
    where = f"'{table}' vs dataset '{matching.dataset}'"
    if not pairs:
        return RowVerdict("pass", f"{where}: no column holds input values")
    if not singled:
        columns = ", ".join(sorted(pairs))
        return RowVerdict("pass", f"{where}: matched columns ({columns}) single out no record")
    identifying = sorted(c for c, i in pairs.items() if tags.get(i) in IDENTIFYING)
    direct = sorted(c for c, i in pairs.items() if tags.get(i) == ColumnTag.DIRECT_IDENTIFIER.value)
    copied = ", ".join(f"{o}<-{i}" for o, i in sorted(pairs.items()))
    what = (
        f"{where}: {singled} of {rows} rows match fewer than the threshold of input records "
        f"over columns {copied}"
    )
    if product is Product.STATISTICS and not direct:
        return RowVerdict("warn", f"{what}; the groups are small (their values are noisy)")
    tolerated = max(COINCIDENCES, math.ceil(COINCIDENCE_SHARE * rows))
    if direct:
        return RowVerdict("fail", f"{what}, incl. direct identifiers {', '.join(direct)}")
    if (identifying or len(pairs) >= 2) and singled > tolerated:
        return RowVerdict(
            "fail", f"{what}: copied records, or groups too small to release, single out people"
        )
    return RowVerdict("warn", f"{what}; few enough to be coincidence, look at them")
