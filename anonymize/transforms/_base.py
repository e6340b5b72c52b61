"""What every column operator shares: its base model and the context it runs in."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True, slots=True)
class Context:
    """What an operator may need beyond the column: never shown to an operator.

    Attributes:
        secret: The deployment secret (``Settings.secret()``), keys pseudonyms.
        findings: The detection path's findings (``anonymize.FINDINGS_SCHEMA``)
            for in-text redaction, or None when no column is redacted.
    """

    secret: bytes
    findings: pl.DataFrame | None = None


class Operator(BaseModel):
    """One per-column operation of a :class:`anonymize.transforms.TransformSpec`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def expression(self, frame: pl.DataFrame, column: str, context: Context) -> pl.Expr | None:
        """The released column as an expression over ``frame``, or None to leave it out."""
        raise NotImplementedError
