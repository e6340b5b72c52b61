"""Scan a table for personal identifiers that must not leave the sandbox.

The airlock runs this over every output before a steward sees it. This is
the thin first version: resident IDs (GB 11643) and mainland mobile numbers,
found by a vectorized polars regex and then validated candidate by candidate
(check digit and birth date for IDs). Findings name the column, the row and
the entity type, never the value.

References:
    GB 11643-1999, Citizen identification number (公民身份号码): ISO 7064
    MOD 11-2 check character, computed with :mod:`stdnum.cn.ric`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
from stdnum.cn import ric

#: 18 characters: 17 digits and a check character, not inside a longer number.
_RESIDENT_ID = r"(?:^|[^0-9A-Za-z.])([1-9]\d{16}[\dXx])(?:$|[^0-9A-Za-z.])"
#: Mainland mobile numbers: 1, then 3-9, then nine digits, not inside a longer number.
_MOBILE = r"(?:^|[^0-9.])(1[3-9]\d{9})(?:$|[^0-9.])"


@dataclass(frozen=True, slots=True)
class Finding:
    """A personal identifier found in a table; carries no value."""

    column: str
    row: int
    entity: str


def is_resident_id(candidate: str) -> bool:
    """Whether ``candidate`` is an 18-character ID with a valid check character and a real date.

    The region code is not checked against a list: real codes change and
    synthetic data uses retired ones, and a false negative here would let an
    ID leave.

    >>> is_resident_id("11010519491231002X")
    True
    >>> is_resident_id("110105194912310021")
    False
    """
    number = candidate.upper()
    if len(number) != 18 or not number[:17].isdigit():
        return False
    if ric.calc_check_digit(number) != number[17]:
        return False
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= born <= dt.date.today()


def _candidates(frame: pl.DataFrame, column: str, pattern: str) -> pl.DataFrame:
    """Rows of ``column`` with every capture of ``pattern``, one row per capture."""
    value = pl.col(column)
    dtype = frame.schema[column]
    if dtype.is_float():
        # A float holds an identifier only as a whole number (13912345678.0);
        # its decimals are not text to scan.
        value = pl.when(value == value.floor()).then(value.cast(pl.Int64, strict=False))
    text = value.cast(pl.String)
    return (
        frame.lazy()
        .select(pl.int_range(pl.len()).alias("row"), text.alias("text"))
        .filter(pl.col("text").str.contains(pattern))
        .select("row", pl.col("text").str.extract_all(pattern).alias("hit"))
        .explode("hit")
        .with_columns(pl.col("hit").str.replace_all(r"[^0-9Xx]", ""))
        .collect()
    )


def scan_frame(frame: pl.DataFrame, max_findings: int = 1000) -> list[Finding]:
    """Find resident IDs and mobile numbers in every column of ``frame``.

    Args:
        frame: Any table; every column is scanned as text.
        max_findings: Stop after this many findings (the verdict is already "fail").

    Returns:
        Findings in column order, then row order.
    """
    findings: list[Finding] = []
    for column in frame.columns:
        if frame.schema[column] in (pl.Boolean, pl.Null):
            continue
        for row, hit in _candidates(frame, column, _RESIDENT_ID).iter_rows():
            if is_resident_id(hit):
                findings.append(Finding(column, row, "CN_RESIDENT_ID"))
        for (row,) in _candidates(frame, column, _MOBILE).select("row").unique().iter_rows():
            findings.append(Finding(column, row, "PHONE_NUMBER"))
        if len(findings) >= max_findings:
            return findings[:max_findings]
    return findings
