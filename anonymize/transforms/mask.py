"""Mask: hide the middle of a value, keeping its first and last code points.

A resident ID keeps its region and its last digits (``3201**********123X``),
a mobile number its carrier prefix and last four (``139****5678``). Works on
any column (non-strings are cast to text first) and counts code points, so
Chinese names mask per character (``张**``). A value too short to hide
anything between the kept ends is masked whole: a short value never passes
through in the clear.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field

from anonymize.transforms._base import Context, Operator


def _repeat(char: str, times: pl.Expr) -> pl.Expr:
    """``char`` repeated ``times`` (a per-row count) times, vectorized by padding."""
    return pl.lit("", pl.String).str.pad_end(times.clip(0), char)


def mask(column: str, *, keep_first: int = 0, keep_last: int = 0, char: str = "*") -> pl.Expr:
    """``column`` with all but its first ``keep_first`` and last ``keep_last`` code points masked.

    Args:
        column: The column to mask (any type; the output is a string).
        keep_first: Code points kept at the start.
        keep_last: Code points kept at the end.
        char: The mask character, one code point.

    Returns:
        The masked column, same length per value; nulls stay null.

    >>> frame = pl.DataFrame({"id": ["32010219800101123X"], "name": ["张三丰"]})
    >>> frame.select(mask("id", keep_first=4, keep_last=4)).item()
    '3201**********123X'
    >>> frame.select(mask("name", keep_first=1)).item()
    '张**'
    """
    text = pl.col(column).cast(pl.String)
    length = text.str.len_chars().cast(pl.Int64)
    hidden = length - keep_first - keep_last
    kept = pl.concat_str(
        [text.str.head(keep_first), _repeat(char, hidden), text.str.tail(keep_last)]
    )
    whole = _repeat(char, length)
    return pl.when(hidden > 0).then(kept).otherwise(whole).alias(column)


class Mask(Operator):
    """Keep the first ``keep_first`` and last ``keep_last`` code points; mask the rest."""

    op: Literal["mask"] = "mask"
    keep_first: int = Field(default=0, ge=0)
    keep_last: int = Field(default=0, ge=0)
    char: str = Field(default="*", min_length=1, max_length=1)

    def expression(self, frame: pl.DataFrame, column: str, context: Context) -> pl.Expr | None:
        return mask(column, keep_first=self.keep_first, keep_last=self.keep_last, char=self.char)
