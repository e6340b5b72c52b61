"""The spec of an anonymized row-level extract (art. 37).

A hierarchy in the spec is either given inline (any :data:`anonymize.hierarchies.Hierarchy`)
or named: ``{"kind": "named", "name": ...}`` picks a hierarchy the bureau's steward stored
with the dataset (``PUT /v1/datasets/{name}/hierarchies/{column}``), which the operator
may use without reading its lines. Names are resolved against the catalog when the job is
submitted (:func:`jobs.kinds.extract.engine.validate`), so an unknown name is refused
before anything runs.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from anonymize.hierarchies import Hierarchy
from jobs.spec import Identifier, SpecModel

__all__ = ["ExtractSpec", "Metric", "NamedHierarchy", "SpecHierarchy"]

#: The information-loss metric the lattice search minimizes.
Metric = Literal["ncp", "non_uniform_entropy"]


class NamedHierarchy(BaseModel):
    """A hierarchy the steward stored with the dataset, named (its lines stay with the bureau).

    >>> NamedHierarchy(name="district").kind
    'named'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["named"] = "named"
    name: Identifier


#: A hierarchy of the spec: given inline, or a steward's named one.
SpecHierarchy = Annotated[Hierarchy | NamedHierarchy, Field(discriminator="kind")]


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
            one chosen from its type and values. ``{"kind": "named", "name": N}``
            uses the hierarchy named ``N`` that the steward stored with the dataset; a
            quasi-identifier with a stored hierarchy and none named here uses the
            stored one (the steward's choice beats the automatic one).
        metric: The information loss the search for the least generalization
            minimizes: ``ncp``, the normalized certainty penalty (Xu et al. 2006;
            each generalized cell costs the share of the domain it covers), or
            ``non_uniform_entropy``, ARX's precomputed non-uniform entropy (the
            information lost per cell, from the values' frequencies; Gionis and
            Tassa 2009).
    """

    kind: Literal["extract"]
    dataset: Identifier
    columns: list[Identifier] = Field(min_length=1, max_length=200)
    k: int = Field(default=5, ge=2, le=10_000)
    l: int | None = Field(default=None, ge=2, le=100)  # noqa: E741 - the model's own name
    suppression_limit: float = Field(default=0.05, ge=0.0, le=0.5)
    pseudonymize: list[Identifier] = Field(default_factory=list, max_length=20)
    hierarchies: dict[Identifier, SpecHierarchy] = Field(default_factory=dict, max_length=50)
    metric: Metric = "ncp"

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
