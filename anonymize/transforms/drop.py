"""Drop: the column does not appear in the output (the default for unlisted columns)."""

from __future__ import annotations

from typing import Literal

import polars as pl

from anonymize.transforms._base import Context, Operator


class Drop(Operator):
    """Leave the column out of the released table."""

    op: Literal["drop"] = "drop"

    def expression(self, frame: pl.DataFrame, column: str, context: Context) -> pl.Expr | None:
        return None
