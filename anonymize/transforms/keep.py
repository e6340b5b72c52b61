"""Keep: the column is released as it is (plain columns, or already safe ones)."""

from __future__ import annotations

from typing import Literal

import polars as pl

from anonymize.transforms._base import Context, Operator


class Keep(Operator):
    """Release the column unchanged."""

    op: Literal["keep"] = "keep"

    def expression(self, frame: pl.DataFrame, column: str, context: Context) -> pl.Expr | None:
        return pl.col(column)
