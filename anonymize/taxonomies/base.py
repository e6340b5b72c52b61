"""The :class:`Taxonomy` type: values to labels at nested levels, and coverage."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Taxonomy", "coverage"]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Values to their labels at each level of a classification, finest level first.

    Attributes:
        name: Short identifier shown in reports (no data value).
        levels: Names of the levels above the value (``("region", "province")``).
        paths: Each known value to its labels, one per level.
        hint: A regular expression that a column name of this kind matches.
        standard: The classification the table follows.

    Raises:
        ValueError: A path has the wrong length, or a label has two parents
            (the levels would not nest).

    >>> t = Taxonomy("t", ("stage",), {"本科": ("高等教育",)}, "edu")
    >>> t.path("本科"), t.path("高等教育"), t.path("船长")
    (('高等教育',), ('高等教育',), None)
    """

    name: str
    levels: tuple[str, ...]
    paths: Mapping[str, tuple[str, ...]]
    hint: str
    standard: str = ""
    _labels: dict[str, tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        parents: dict[tuple[int, str], str] = {}
        for path in self.paths.values():
            if len(path) != len(self.levels):
                raise ValueError(f"taxonomy {self.name}: a path has the wrong number of levels")
            for i, (label, parent) in enumerate(itertools.pairwise(path)):
                if parents.setdefault((i, label), parent) != parent:
                    raise ValueError(
                        f"taxonomy {self.name}: a label of level {i + 1} has two parents"
                    )
        # A label standing as a value keeps itself up to its own level, then its parents.
        for path in self.paths.values():
            for i, label in enumerate(path):
                self._labels.setdefault(label, (label,) * (i + 1) + path[i + 1 :])

    def path(self, value: str) -> tuple[str, ...] | None:
        """The labels of ``value`` at each level, or ``None`` if the taxonomy does not know it."""
        found = self.paths.get(value)
        return found if found is not None else self._labels.get(value)

    def is_leaf(self, value: str) -> bool:
        """Whether ``value`` is one of the classified values (not only a label)."""
        return value in self.paths

    def named(self, column: str) -> bool:
        """Whether the column's name suggests this taxonomy (``学历`` for education)."""
        return re.search(self.hint, column, re.IGNORECASE) is not None


def coverage(taxonomy: Taxonomy, counts: Iterable[tuple[str, int]]) -> tuple[float, float]:
    """Shares of records whose value the taxonomy knows: (as a value or label, as a value).

    >>> t = Taxonomy("t", ("stage",), {"本科": ("高等教育",)}, "edu")
    >>> coverage(t, [("本科", 6), ("高等教育", 2), ("船长", 2)])
    (0.8, 0.6)
    """
    known = leaves = total = 0
    for value, n in counts:
        total += n
        if taxonomy.path(value) is not None:
            known += n
            leaves += n if taxonomy.is_leaf(value) else 0
    if not total:
        return 0.0, 0.0
    return known / total, leaves / total
