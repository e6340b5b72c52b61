"""Redact: replace the PII found inside free text by ``<ENTITY>`` or a mask.

Depends only on the findings contract of :mod:`anonymize.detect.findings`: a frame
``row, column, entity, start, end, score`` with code-point offsets into the
cell, as both detection paths produce it. Vectorized: overlapping findings
of a cell are merged into one span (keeping the label of the highest score),
then each cell is rebuilt from pieces ``text[prev_end:start] + label`` cut
with ``str.slice`` (which counts code points) and joined per row; cells with
no finding are untouched. Adjacent findings stay two labels (``<A><B>``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import polars as pl
from pydantic import Field, field_validator

from anonymize.detect.findings import FINDINGS_SCHEMA
from anonymize.errors import AnonymizationError
from anonymize.transforms._base import Context, Operator


def _findings_of(
    findings: pl.DataFrame, column: str, entities: Collection[str] | None
) -> pl.DataFrame:
    """The findings of one column: ``row, start, end, entity, score``."""
    missing = set(FINDINGS_SCHEMA) - set(findings.columns)
    if missing:
        raise AnonymizationError(
            f"the findings frame lacks column(s) {', '.join(sorted(missing))}: "
            "pass the frame the PII scan returns (anonymize.FINDINGS_SCHEMA)"
        )
    mine = findings.filter(pl.col("column") == column).select(
        pl.col("row").cast(pl.Int64),
        pl.col("start").cast(pl.Int64),
        pl.col("end").cast(pl.Int64),
        pl.col("entity").cast(pl.String),
        pl.col("score").cast(pl.Float64),
    )
    if entities is not None:
        mine = mine.filter(pl.col("entity").is_in(list(entities)))
    return mine


def _merge(found: pl.DataFrame) -> pl.DataFrame:
    """Overlapping findings of a cell merged into one span, named by its best finding.

    No per-row windows: rows are sorted, so ``row * M + end`` (``M`` above any
    end) has a running maximum that restarts at each row, which gives the
    furthest end reached before each finding in one pass.
    """
    if found.is_empty():
        return found.select("row", "start", "end", "entity", "text")
    offset = pl.col("row") * (found["end"].max() + 1)  # type: ignore[operator]
    reach = (offset + pl.col("end")).cum_max().shift(1) - offset
    return (
        found.sort(["row", "start", "end"], descending=[False, False, True])
        .with_columns((reach.is_null() | (pl.col("start") >= reach)).cum_sum().alias("span"))
        # The label: highest score, then earliest, then longest, then by name.
        .sort(
            ["span", "score", "start", "end", "entity"],
            descending=[False, True, False, True, False],
        )
        .group_by("span", maintain_order=True)
        .agg(
            pl.col("row").first(),
            pl.col("start").min(),
            pl.col("end").max(),
            pl.col("entity").first(),
            pl.col("text").first(),
        )
        .drop("span")
    )


def redact(
    frame: pl.DataFrame,
    column: str,
    findings: pl.DataFrame,
    *,
    style: Literal["label", "mask"] = "label",
    char: str = "*",
    entities: Collection[str] | None = None,
) -> pl.Series:
    """``frame[column]`` with every finding of that column replaced.

    Args:
        frame: The table the findings were computed on (rows numbered from 0).
        column: A string column.
        findings: Findings of any columns (``FINDINGS_SCHEMA``); rows of other
            columns are ignored.
        style: ``label`` writes ``<ENTITY>``; ``mask`` writes ``char`` once per
            code point, keeping the text's length.
        char: The mask character.
        entities: Redact only these entities; all by default.

    Returns:
        The redacted column.

    Raises:
        AnonymizationError: The column is not text, or a finding does not fit
            its cell (the findings were computed on another table).

    >>> frame = pl.DataFrame({"note": ["电话13912345678,邮箱a@b.cn"]})
    >>> found = pl.DataFrame(
    ...     {"row": [0, 0], "column": ["note"] * 2, "entity": ["PHONE_NUMBER", "EMAIL_ADDRESS"],
    ...      "start": [2, 16], "end": [13, 22], "score": [0.9, 0.9]}, schema=FINDINGS_SCHEMA)
    >>> redact(frame, "note", found).item()
    '电话<PHONE_NUMBER>,邮箱<EMAIL_ADDRESS>'
    """
    if frame.schema.get(column) != pl.String:
        raise AnonymizationError(
            f"column '{column}' is not a text column: redact only string columns, "
            "or use mask / pseudonym / suppress on it"
        )
    cells = frame.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), pl.col(column).alias("text")
    )
    found = _findings_of(findings, column, entities).join(
        cells, on="row", how="left", maintain_order="left"
    )
    fits = (
        pl.col("text").is_not_null()
        & (pl.col("start") >= 0)
        & (pl.col("start") < pl.col("end"))
        & (pl.col("end") <= pl.col("text").str.len_chars())
    )
    misfits = found.select((~fits).fill_null(True).sum()).item()
    if misfits:
        raise AnonymizationError(
            f"{misfits} finding(s) of column '{column}' fall outside their cells: "
            "re-run the PII scan on this exact table and pass its findings"
        )
    spans = _merge(found)
    width = pl.col("end") - pl.col("start")
    label = (
        pl.concat_str([pl.lit("<"), pl.col("entity"), pl.lit(">")])
        if style == "label"
        else pl.lit("", pl.String).str.pad_end(width, char)
    )
    same_cell = pl.col("row") == pl.col("row").shift(1)
    before = pl.when(same_cell).then(pl.col("end").shift(1)).otherwise(0)
    rebuilt = (
        spans.with_columns(
            pl.concat_str(
                [pl.col("text").str.slice(before, pl.col("start") - before), label]
            ).alias("piece")
        )
        .group_by("row", maintain_order=True)
        .agg(pl.col("piece").str.join(""), pl.col("end").last(), pl.col("text").first())
        .select(
            "row",
            pl.concat_str(["piece", pl.col("text").str.slice(pl.col("end"))]).alias("redacted"),
        )
    )
    out = cells.join(rebuilt, on="row", how="left", maintain_order="left")
    return out.select(pl.coalesce("redacted", "text").alias(column)).to_series()


class Redact(Operator):
    """Replace the findings inside a text column by ``<ENTITY>`` or a mask."""

    op: Literal["redact"] = "redact"
    style: Literal["label", "mask"] = "label"
    char: str = Field(default="*", min_length=1, max_length=1)
    #: Redact only these entities (names of :data:`anonymize.Entity`); all by default.
    entities: tuple[str, ...] | None = None

    @field_validator("entities")
    @classmethod
    def _known(cls, entities: tuple[str, ...] | None) -> tuple[str, ...] | None:
        """Only names of registered entities (the registry loads here, not on import)."""
        if entities is None:
            return None
        from anonymize.detect.entities import entity_set

        try:
            entity_set(entities)
        except AnonymizationError as err:
            raise ValueError(str(err)) from err
        return tuple(str(e) for e in entities)

    def expression(self, frame: pl.DataFrame, column: str, context: Context) -> pl.Expr | None:
        if context.findings is None:
            raise AnonymizationError(
                f"column '{column}' is to be redacted but no findings were given: "
                "scan the table for PII and pass the findings to apply()"
            )
        entities = None if self.entities is None else list(self.entities)
        redacted = redact(
            frame, column, context.findings, style=self.style, char=self.char, entities=entities
        )
        return pl.lit(redacted).alias(column)
