"""The finding types shared by both detection paths.

Two paths find the same things: :mod:`anonymize.detect.analyzer` (Presidio's
``AnalyzerEngine``, one text at a time) and :mod:`anonymize.detect.vector`
(polars, whole columns). Both report code-point offsets into the cell and the
same entity names (:mod:`anonymize.detect.entities`), so their results can be
compared one to one. This module needs polars only: ``import anonymize``
loads it.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """One finding in one text: ``text[start:end]`` in code points. Carries no value."""

    start: int
    end: int
    entity: str
    score: float


#: Schema of the findings frame the vectorized path returns (one row per finding). The
#: output scanners (:mod:`anonymize.detect.scan`) also scan column names: there ``row`` -1
#: means "the header" and the offsets point into the column name.
FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(),
    "column": pl.String(),
    "entity": pl.String(),
    "start": pl.Int64(),
    "end": pl.Int64(),
    "score": pl.Float64(),
}
