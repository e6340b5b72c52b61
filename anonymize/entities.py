"""Entity names and the finding types shared by both detection paths.

Two paths find the same things: :mod:`anonymize.analyzer` (Presidio's
``AnalyzerEngine``, one text at a time) and :mod:`anonymize.vector` (polars,
whole columns). Both report code-point offsets into the cell and the same
entity names, so their results can be compared one to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl


class Entity(StrEnum):
    """What a finding is. Names follow Presidio's conventions."""

    PERSON = "PERSON"
    CN_RESIDENT_ID = "CN_RESIDENT_ID"  # GB 11643 (18 chars) and 15-digit first-generation IDs
    PHONE_NUMBER = "PHONE_NUMBER"  # mainland mobiles and landlines with area code
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    BANK_CARD = "BANK_CARD"  # 16-19 digits, Luhn
    CN_PASSPORT = "CN_PASSPORT"
    CN_LICENSE_PLATE = "CN_LICENSE_PLATE"  # incl. new-energy plates
    CN_ADDRESS = "CN_ADDRESS"
    CN_USCC = "CN_USCC"  # GB 32100 unified social credit code: an organisation, not a person

    @property
    def is_personal(self) -> bool:
        """Whether the entity identifies a natural person (USCC identifies an organisation)."""
        return self is not Entity.CN_USCC


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """One finding in one text: ``text[start:end]`` in code points. Carries no value."""

    start: int
    end: int
    entity: str
    score: float


#: Schema of the findings frame the vectorized path returns (one row per finding). The
#: output scanners (:mod:`anonymize.scan`) also scan column names: there ``row`` -1 means
#: "the header" and the offsets point into the column name.
FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(),
    "column": pl.String(),
    "entity": pl.String(),
    "start": pl.Int64(),
    "end": pl.Int64(),
    "score": pl.Float64(),
}
