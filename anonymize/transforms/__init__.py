"""Per-column transforms, declared in a :class:`TransformSpec` and applied with :func:`apply`.

Map of the package (one operator per file, each a pydantic model with an
``op`` tag and a plain function producing a polars expression):

- :mod:`~anonymize.transforms.drop` — leave the column out;
- :mod:`~anonymize.transforms.keep` — release it unchanged;
- :mod:`~anonymize.transforms.mask` — ``3201**********123X``;
- :mod:`~anonymize.transforms.pseudonym` — keyed HMAC-SHA256, hex or shape-keeping;
- :mod:`~anonymize.transforms.generalize` — one level of a hierarchy
  (age band, birth year, ID region, address level, postcode prefix, income range);
- :mod:`~anonymize.transforms.suppress` — null or ``*`` in every cell;
- :mod:`~anonymize.transforms.redact` — ``<ENTITY>`` over the findings in free text.

A spec is an allow-list: a column it does not name is dropped unless
``others="keep"``. All operators run as one polars ``select`` over the input.

>>> spec = TransformSpec.model_validate(
...     {"columns": {"id": {"op": "mask", "keep_first": 4, "keep_last": 4},
...                  "age": {"op": "generalize", "level": 2,
...                          "hierarchy": {"kind": "interval", "widths": [5, 10]}}}})
>>> frame = pl.DataFrame({"id": ["32010219800101123X"], "age": [37], "phone": ["13912345678"]})
>>> apply(frame, spec, b"k" * 32).row(0)
('3201**********123X', '[30, 40)')
"""

from __future__ import annotations

from typing import Annotated, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from anonymize.errors import AnonymizationError
from anonymize.transforms._base import Context, Operator
from anonymize.transforms.drop import Drop
from anonymize.transforms.generalize import Generalize
from anonymize.transforms.keep import Keep
from anonymize.transforms.mask import Mask
from anonymize.transforms.pseudonym import Pseudonym
from anonymize.transforms.redact import Redact
from anonymize.transforms.suppress import Suppress

#: One column's operation, chosen by its ``op`` field.
ColumnOp = Annotated[
    Drop | Keep | Mask | Pseudonym | Generalize | Suppress | Redact,
    Field(discriminator="op"),
]


class TransformSpec(BaseModel):
    """What to do with each column of a table, validated at the edge.

    Attributes:
        columns: Operation per column name.
        others: What happens to columns not named: ``drop`` (the default:
            an allow-list) or ``keep``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, ColumnOp] = Field(min_length=1)
    others: Literal["drop", "keep"] = "drop"

    @property
    def needs_findings(self) -> bool:
        """Whether some column is redacted, so :func:`apply` needs PII findings."""
        return any(isinstance(op, Redact) for op in self.columns.values())


def apply(
    frame: pl.DataFrame,
    spec: TransformSpec,
    secret: bytes,
    *,
    findings: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Apply ``spec`` to ``frame``; columns keep their order, dropped ones vanish.

    Args:
        frame: The input table.
        spec: The per-column operations.
        secret: The deployment secret (``Settings.secret()``), keys pseudonyms.
        findings: PII findings of ``frame`` (``anonymize.FINDINGS_SCHEMA``),
            needed when a column is redacted.

    Returns:
        The transformed table.

    Raises:
        AnonymizationError: The spec names a column the table lacks, an
            operator cannot handle its column, or findings are missing.
    """
    missing = [name for name in spec.columns if name not in frame.columns]
    if missing:
        raise AnonymizationError(
            f"the transform spec names column(s) {', '.join(repr(c) for c in missing)} "
            "that the table lacks: "
            "remove them from the spec or check the dataset's schema"
        )
    context = Context(secret=secret, findings=findings)
    default: Operator = Keep() if spec.others == "keep" else Drop()
    exprs = [
        expr
        for name in frame.columns
        if (expr := spec.columns.get(name, default).expression(frame, name, context)) is not None
    ]
    return frame.select(exprs)


__all__ = [
    "ColumnOp",
    "Context",
    "Drop",
    "Generalize",
    "Keep",
    "Mask",
    "Operator",
    "Pseudonym",
    "Redact",
    "Suppress",
    "TransformSpec",
    "apply",
]
