"""The extract kind's answers to :class:`jobs.kinds.base.JobKind`.

Light on import: the anonymizer (:mod:`jobs.kinds.extract.engine`, polars,
the lattice search) loads inside the members that need it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from jobs.kinds.base import JobKind, KindCheckFacts, KindDefaults, Line, OutputShape
from jobs.kinds.extract.spec import ExtractSpec
from policies.catalog import Product

if TYPE_CHECKING:
    from jobs.dp.accounting import Charge
    from jobs.facts import DatasetFacts, GrantFacts
    from jobs.task import Outcome, Task

__all__ = ["KIND"]


class _Extract(KindDefaults):
    """Anonymized records: k-anonymity and l-diversity, not differential privacy."""

    name = "extract"
    spec_type: type[BaseModel] = ExtractSpec
    product = Product.RECORDS
    untimed = False
    output_formats = frozenset({"parquet"})
    shape = OutputShape.TABLE
    description = (
        "An anonymized row-level extract of one dataset: identifiers dropped or replaced "
        "by keyed pseudonyms, quasi-identifiers generalized until k-anonymity holds."
    )
    partitioned = False

    def options(
        self, grant: GrantFacts, datasets: Sequence[DatasetFacts], secret: bytes
    ) -> dict[str, Any]:
        """The least k (grade and grant), linkage, the grant's pseudonym key, stored hierarchies.

        The key is an HMAC of the deployment secret and the grant: pseudonyms
        are stable within a grant and unlinkable across grants.

        Raises:
            PolicyViolation: The data is graded ``core`` (art. 62).
        """
        from policies.extract import min_k

        key = hmac.new(secret, f"pseudonym/grant/{grant.id}".encode(), hashlib.sha256).hexdigest()
        from jobs.kinds.extract.stewarded import options_of

        return {
            "min_k": min_k(datasets[0].grade, grant.extract_k),
            "linkage": grant.allow_linkage,
            "pseudonym_key": key,
            # the steward's hierarchies stored with the dataset, by name
            "hierarchies": options_of(datasets[0].hierarchies),
        }

    def validate(
        self, spec: ExtractSpec, datasets: Sequence[DatasetFacts], options: Mapping[str, Any]
    ) -> None:
        """See :func:`jobs.kinds.extract.engine.validate` (per dataset)."""
        from jobs.kinds.extract.engine import validate

        for dataset in datasets:
            validate(spec, dataset.dtypes, dataset.tags, dataset.grade, options)

    def charge(self, spec: ExtractSpec, datasets: Sequence[DatasetFacts], min_cell: int) -> Charge:
        """Nothing: an extract is not DP (it still goes through the ledger, at zero)."""
        from jobs.kinds.extract.engine import charge

        del datasets, min_cell
        return charge(spec)

    def run(self, task: Task) -> Outcome:
        """See :func:`jobs.kinds.extract.engine.run`."""
        from jobs.kinds.extract.engine import run

        return run(task)

    def check_facts(self, spec: ExtractSpec, task: Task) -> KindCheckFacts:
        """Records: the k enforced, the pseudonymized columns, at most the inputs' rows."""
        return KindCheckFacts(
            formats=self.output_formats,
            k=max(spec.k, int(task.options.get("min_k", 0))),
            pseudonyms=frozenset(spec.pseudonymize),
            max_rows=sum(task.row_counts.values()),
        )

    def describe(self, spec: ExtractSpec) -> list[Line]:
        """The columns, k and l, and the pseudonymized columns."""
        lines: list[Line] = [
            ("columns", ", ".join(spec.columns)),
            ("k-anonymity", f"k = {spec.k}, l = {spec.l or '—'}"),
        ]
        if spec.pseudonymize:
            lines.append(("pseudonyms", ", ".join(spec.pseudonymize)))
        return lines

    def privacy_statement(self, spec: ExtractSpec, report: Mapping[str, Any]) -> dict[str, Any]:
        """k-anonymity: the k and l the run achieved."""
        del spec
        return {
            "guarantee": "k-anonymity (not differential privacy)",
            "k": report.get("k_achieved"),
            "l": report.get("l_achieved"),
            # no records_suppressed: with the released rows it gives the exact input size
            # (it stays in the run report, for the bureau's stewards and auditors)
        }


#: The extract kind, as the registry lists it.
KIND: JobKind = _Extract()
