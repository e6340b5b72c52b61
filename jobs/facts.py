"""The public facts of a catalogued dataset, as one frozen value.

The service reads them once from the catalog (``sandbox.jobs.facts``) and every
part downstream receives this value: a kind's validation and charge, the Ray
task, the automatic checks. Nothing here is a data value of a person; the exact
row count is here for the engines inside the boundary, never for what an
operator sees (they see :attr:`DatasetFacts.public_row_count`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.catalog import ColumnTag, Grade, GroupSizeBand


@dataclass(frozen=True, slots=True)
class Column:
    """One catalogued column: its polars dtype name, tag and nullability."""

    name: str
    dtype: str
    tag: ColumnTag
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class StoredHierarchy:
    """A steward's generalization hierarchy stored with the dataset (ARX's CSV format).

    The text is parsed where an extract needs it
    (:class:`anonymize.hierarchies.TableHierarchy`), not for every kind's facts.
    """

    name: str
    column: str
    csv: str


@dataclass(frozen=True, slots=True)
class DatasetFacts:
    """What the catalog says about one dataset; plain values (it crosses to Ray).

    Attributes:
        name: The dataset's catalog name.
        parts: Glob of its stored Parquet parts.
        grade: Security grade (art. 62).
        row_count: Exact catalogued rows (inside the boundary only).
        public_row_count: The noisy count operators see; charges depend on it only.
        privacy_unit: Column identifying a person; ``None``: one row per person.
        public_keys: Declared public domains of key columns.
        columns: The catalogued columns, in order.
        group_size_bands: The steward's expected group sizes (estimates only),
            key (columns joined by ``,``) -> band.
        hierarchies: The steward's generalization hierarchies, one per column at most.
    """

    name: str
    parts: str
    grade: Grade
    row_count: int
    public_row_count: int
    privacy_unit: str | None = None
    public_keys: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    columns: tuple[Column, ...] = ()
    group_size_bands: Mapping[str, GroupSizeBand] = field(default_factory=dict)
    hierarchies: tuple[StoredHierarchy, ...] = ()

    @property
    def dtypes(self) -> dict[str, str]:
        """Column -> polars dtype name."""
        return {c.name: c.dtype for c in self.columns}

    @property
    def tags(self) -> dict[str, ColumnTag]:
        """Column -> catalog tag."""
        return {c.name: c.tag for c in self.columns}

    @property
    def non_null_columns(self) -> frozenset[str]:
        """Columns the catalog declares free of nulls."""
        return frozenset(c.name for c in self.columns if not c.nullable)


@dataclass(frozen=True, slots=True)
class GrantFacts:
    """The terms of a grant a kind's options may read (never the spec's say-so).

    Attributes:
        id: The grant's id (keyed pseudonyms are per grant).
        min_cell: The grant's small-cell threshold, if stricter than the grade's.
        extract_k: The grant's k for extracts, if stricter than the grade's.
        allow_linkage: Whether extracts may keep identifiers as keyed pseudonyms.
        limits: Jail limits for operator code (missing keys take defaults).
    """

    id: int
    min_cell: int | None = None
    extract_k: int | None = None
    allow_linkage: bool = False
    limits: Mapping[str, Any] = field(default_factory=dict)
