"""Quality profile of a catalogued dataset for the catalog page: no values.

Per column: the share of nulls and a band of the number of distinct values
(HyperLogLog estimate via polars' ``approx_n_unique``: a band needs no exact
count, and the estimate reads a large table in one streaming pass). Nothing
else about the contents leaves: no minimum, maximum, mode or example.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from sandbox.catalog.datasets import scan_dataset
from sandbox.web.console.i18n import N_


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """Quality facts of one column."""

    name: str
    null_share: float
    distinct_band: str


def distinct_band(n: int) -> str:
    """The band a count of distinct values is shown in.

    >>> [distinct_band(n) for n in (1, 7, 80, 5_000, 2_000_000)]
    ['1', '2–9', '10–99', '1 000–99 999', '100 000 or more']
    """
    if n <= 1:
        return str(max(n, 0))
    for upper, label in (
        (10, "2–9"),
        (100, "10–99"),
        (1_000, "100–999"),
        (100_000, "1 000–99 999"),
    ):
        if n < upper:
            return label
    return N_("100 000 or more")


def profile(path: str, sha256: str, rows: int) -> list[ColumnProfile]:
    """The quality profile of a stored dataset (cached by its content hash)."""
    return list(_profile(path, sha256, rows))


@lru_cache(maxsize=64)
def _profile(path: str, sha256: str, rows: int) -> tuple[ColumnProfile, ...]:
    frame = scan_dataset(path)
    columns = frame.collect_schema().names()
    facts = frame.select(
        [pl.col(c).null_count().alias(f"n:{c}") for c in columns]
        + [pl.col(c).approx_n_unique().alias(f"d:{c}") for c in columns]
    ).collect()
    return tuple(
        ColumnProfile(
            name=c,
            null_share=int(facts[f"n:{c}"][0]) / rows if rows else 0.0,
            distinct_band=distinct_band(int(facts[f"d:{c}"][0])),
        )
        for c in columns
    )
