"""The spec of an anonymized row-level extract (art. 37)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from anonymize.hierarchies import Hierarchy
from jobs.spec import Identifier, SpecModel

__all__ = ["ExtractSpec"]


class ExtractSpec(SpecModel):
    """An anonymized row-level release of one dataset (art. 37).

    Attributes:
        columns: Columns to release; direct identifiers among them are dropped
            unless listed in ``pseudonymize``.
        k: Target k-anonymity on the quasi-identifiers (the grant and grade may
            demand more: the larger applies).
        l: Distinct sensitive values each equivalence class must hold; required
            when a sensitive column is released.
        suppression_limit: Largest share of records that may be suppressed.
        pseudonymize: Direct identifiers replaced by keyed HMAC pseudonyms
            instead of dropped (the grant must allow linkage).
        hierarchies: Generalization hierarchy per quasi-identifier (see
            :mod:`anonymize.hierarchies`, e.g. ``{"kind": "cuts", "levels":
            [[20, 40, 60], [40]]}``); a quasi-identifier not named here gets
            one chosen from its type and values.
    """

    kind: Literal["extract"]
    dataset: Identifier
    columns: list[Identifier] = Field(min_length=1, max_length=200)
    k: int = Field(default=5, ge=2, le=10_000)
    l: int | None = Field(default=None, ge=2, le=100)  # noqa: E741 - the model's own name
    suppression_limit: float = Field(default=0.05, ge=0.0, le=0.5)
    pseudonymize: list[Identifier] = Field(default_factory=list, max_length=20)
    hierarchies: dict[Identifier, Hierarchy] = Field(default_factory=dict, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("columns lists a column twice")
        if len(set(self.pseudonymize)) != len(self.pseudonymize):
            raise ValueError("pseudonymize lists a column twice")
        for field_name, names in (
            ("pseudonymize", list(self.pseudonymize)),
            ("hierarchies", list(self.hierarchies)),
        ):
            outside = sorted(set(names) - set(self.columns))
            if outside:
                raise ValueError(
                    f"{field_name} names column(s) not in columns: {', '.join(outside)}; "
                    "add them to columns or remove them"
                )
        return self

    @property
    def datasets(self) -> list[str]:
        """The datasets the job reads."""
        return [self.dataset]
