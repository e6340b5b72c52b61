"""Generalize: replace a value by a coarser one, one level of a hierarchy.

The recodings (age band, birth year, ID region, address level, postcode
prefix, income range) are levels of the hierarchies in
:mod:`anonymize.hierarchies`, so a column generalized here and a column
generalized by :mod:`anonymize.kanon` use the same labels. The helpers below
are the common single levels, each a polars expression.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl
from pydantic import Field, model_validator

from anonymize.hierarchies import (
    AddressHierarchy,
    AddressLevel,
    CutHierarchy,
    DateHierarchy,
    Hierarchy,
    IntervalHierarchy,
    PrefixHierarchy,
)
from anonymize.transforms._base import Context, Operator


def age_band(column: str, width: int = 10) -> pl.Expr:
    """Ages to bands ``[lo, lo + width)``.

    >>> pl.DataFrame({"age": [37]}).select(age_band("age", 5)).item()
    '[35, 40)'
    """
    return IntervalHierarchy(widths=(width,)).expr(column, 1)


def birth_year(column: str) -> pl.Expr:
    """Dates (or ISO date strings) to their year."""
    return DateHierarchy(levels=("year",)).expr(column, 1)


def id_region(column: str, digits: Literal[2, 4, 6] = 4) -> pl.Expr:
    """Resident IDs to their GB/T 2260 region: province (2), city (4), county (6).

    >>> pl.DataFrame({"id": ["32010219800101123X"]}).select(id_region("id", 2)).item()
    '32'
    """
    return PrefixHierarchy(lengths=(digits,)).expr(column, 1)


def address_level(column: str, level: AddressLevel = "city") -> pl.Expr:
    """Chinese addresses to their district, city or province."""
    return AddressHierarchy(levels=(level,)).expr(column, 1)


def postcode_prefix(column: str, digits: int = 4) -> pl.Expr:
    """Postcodes to their first ``digits`` digits (2: province, 4: delivery area)."""
    return PrefixHierarchy(lengths=(digits,)).expr(column, 1)


def income_range(column: str, cuts: Sequence[float]) -> pl.Expr:
    """Numbers to ranges between ``cuts`` (``<a``, ``[a, b)``, ..., ``>=z``).

    >>> pl.DataFrame({"pay": [9000]}).select(income_range("pay", [5000, 10000])).item()
    '[5000, 10000)'
    """
    return CutHierarchy(levels=(tuple(cuts),)).expr(column, 1)


class Generalize(Operator):
    """Release level ``level`` of ``hierarchy`` (1 is the finest recoding)."""

    op: Literal["generalize"] = "generalize"
    hierarchy: Hierarchy
    level: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _level_exists(self) -> Generalize:
        if self.level > self.hierarchy.height:
            raise ValueError(f"level must be at most the hierarchy height {self.hierarchy.height}")
        return self

    def expression(self, frame: pl.DataFrame, column: str, context: Context) -> pl.Expr | None:
        self.hierarchy.check_column(frame, column)
        return self.hierarchy.expr(column, self.level)
