"""Integer level codes of a table, and the equivalence classes of lattice nodes on them.

The codes (:func:`level_codes`): each quasi-identifier at each level of its
hierarchy as dense integer ranks, computed once on the column's distinct
values and gathered to the rows, with NCP's per-cell penalty and ARX's
non-uniform entropy per level (:func:`entropies`).

Why not a polars ``group_by`` per node: the search checks hundreds to
thousands of nodes (919 of 12,960 on ARX's Adult benchmark, 3,500 before its
pruning), and a polars query costs about two milliseconds whatever the
table's size, most of it fixed overhead. Here a node costs a few numpy calls on arrays no longer
than its classes:

- The rows are first collapsed to *base groups*, the distinct tuples of
  level-0 codes with their counts; every level of a hierarchy is a function of
  the value, so every node's classes are unions of base groups.
- A node's classes are *rolled up* from an already counted specialization
  (ARX's roll-up, Kohlmayer et al. 2012): its class codes are mapped one level
  table lookup per column to the node's levels and the classes merged, so the
  cost follows the specialization's class count, not the table's rows. Roll-up
  needs the hierarchies to nest on the data (two values that share a level
  share every level above); it is verified once and, where it fails, classes
  are counted from the base groups.
- Classes are merged on a mixed-radix integer key (re-coded densely before it
  could overflow 63 bits), through a dense table when the key's range is
  small and one ``argsort`` otherwise.

References:
    F. Kohlmayer, F. Prasser, C. Eckert, A. Kemper, K. Kuhn. Flash: efficient,
    stable and optimal k-anonymity. IEEE PASSAT / SocialCom 2012.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from anonymize import privacy_models as pm
from anonymize.hierarchies import Hierarchy
from anonymize.nu_entropy import column_entropy

Codes = npt.NDArray[np.int64]
Node = tuple[int, ...]
#: Specializations kept for roll-up (their class tables), oldest replaced first ...
_SLOTS = 256
#: ... within this many codes in all (32 MiB), whatever the table's size.
_BUDGET = 1 << 22
_NEVER = np.iinfo(np.int64).max
_KEY_LIMIT = 1 << 62


def group(columns: Sequence[Codes], cards: Sequence[int] | None = None) -> tuple[Codes, Codes]:
    """Dense group ids of the rows of ``columns`` (equal length) and each group's first row.

    Args:
        columns: Non-negative integer codes, one array per column.
        cards: Each column's largest code plus one, when known.

    Returns:
        ``(inverse, first)``: ``inverse[r]`` is row ``r``'s group, in ``0..n-1``;
        ``first[g]`` a row of group ``g``.
    """
    rows = len(columns[0]) if columns else 0
    if cards is None:
        cards = [int(column.max()) + 1 if rows else 1 for column in columns]
    key = np.zeros(rows, dtype=np.int64)
    span = 1
    for column, card in zip(columns, cards, strict=True):
        if card == 1:  # one value (a column at its top): nothing to tell apart
            continue
        if span * card >= _KEY_LIMIT:  # re-code densely before the key could overflow
            _, key = np.unique(key, return_inverse=True)
            key = key.astype(np.int64, copy=False).reshape(-1)
            span = int(key.max()) + 1
        key = key * card + column
        span *= card
    if span <= 4 * rows + 4096:  # a dense table beats sorting
        seen = np.zeros(span, dtype=np.int64)
        seen[key] = np.arange(rows)  # some row of each key
        present = np.zeros(span, dtype=bool)
        present[key] = True
        ids = np.cumsum(present) - 1
        return ids[key], seen[present]
    # np.unique's work without its extras (a stable sort, the sorted keys kept).
    order = np.argsort(key)
    ordered = key[order]
    starts = np.empty(rows, dtype=bool)
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    inverse = np.empty(rows, dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return inverse, order[starts]


class ClassCounter:
    """Class sizes of nodes, rolled up from the finest counted specialization at hand.

    Args:
        codes: ``codes[i][level]``: each row's integer code of column ``i`` at
            ``level`` (non-negative; equal codes mean equal released values).
    """

    def __init__(self, codes: Sequence[Sequence[Codes]]) -> None:
        self.width = len(codes)
        self.row_group, first = group([column[0] for column in codes])
        self.weights = np.bincount(self.row_group).astype(np.int64)
        #: Base groups' codes: ``base[i][level]``.
        base = [[level[first] for level in column] for column in codes]
        self.base = base
        # Level-to-level maps for roll-up: up[i][a][b][code at a] = code at b, for a <= b.
        self.nested = True
        self.up: list[list[list[Codes]]] = []
        for column in base:
            maps: list[list[Codes]] = []
            for a, lower in enumerate(column):
                row: list[Codes] = []
                for b, upper in enumerate(column):
                    if b < a:  # never rolled down
                        row.append(np.zeros(0, dtype=np.int64))
                        continue
                    table = np.zeros(int(lower.max()) + 1 if len(lower) else 1, dtype=np.int64)
                    table[lower] = upper
                    self.nested &= bool(np.array_equal(table[lower], upper))
                    row.append(table)
                maps.append(row)
            self.up.append(maps)
        self.cards = [[int(level.max()) + 1 if len(level) else 1 for level in c] for c in base]
        self._zero = (0,) * self.width
        self._base_table = (np.stack([column[0] for column in base], axis=1), self.weights)
        # The ring of kept tables; an empty slot's node is above every node.
        self._nodes = np.full((_SLOTS, self.width), _NEVER, dtype=np.int64)
        self._sizes = np.full(_SLOTS, _NEVER, dtype=np.int64)
        self._tables: list[tuple[Codes, Codes] | None] = [None] * _SLOTS
        self._next = 0
        self._used = 0

    def classes(self, node: Node) -> Codes:
        """The sizes of the node's classes (kept for roll-up when small enough)."""
        source, codes, counts = self._source(node)
        if source == self._zero:  # the base groups' codes at every level are at hand
            columns = [self.base[i][n] for i, n in enumerate(node)]
        else:
            columns = [
                codes[:, i] if s == n else self.up[i][s][n][codes[:, i]]
                for i, (s, n) in enumerate(zip(source, node, strict=True))
            ]
        inverse, first = group(columns, [self.cards[i][n] for i, n in enumerate(node)])
        sizes = np.bincount(inverse, weights=counts, minlength=len(first)).astype(np.int64)
        if self.nested and len(sizes) * 4 <= 3 * len(self.weights):  # else the base is as good
            self._keep(node, np.stack([column[first] for column in columns], axis=1), sizes)
        return sizes

    def _source(self, node: Node) -> tuple[Node, Codes, Codes]:
        """The kept specialization of ``node`` with the fewest classes, else the base groups."""
        if self.nested:
            below = np.all(self._nodes <= np.asarray(node), axis=1)
            slot = int(np.argmin(np.where(below, self._sizes, _NEVER)))
            table = self._tables[slot]
            if below[slot] and table is not None:
                return tuple(int(v) for v in self._nodes[slot]), table[0], table[1]
        return self._zero, *self._base_table

    def _keep(self, node: Node, codes: Codes, sizes: Codes) -> None:
        if codes.size * 4 > _BUDGET:
            return
        slot = self._next
        self._next = (slot + 1) % _SLOTS
        self._drop(slot)
        oldest = self._next
        while self._used + codes.size > _BUDGET:
            self._drop(oldest)
            oldest = (oldest + 1) % _SLOTS
        self._nodes[slot] = node
        self._sizes[slot] = len(sizes)
        self._tables[slot] = (codes, sizes)
        self._used += codes.size

    def _drop(self, slot: int) -> None:
        table = self._tables[slot]
        if table is not None:
            self._used -= table[0].size
        self._tables[slot] = None
        self._nodes[slot] = _NEVER
        self._sizes[slot] = _NEVER

    def row_classes(self, node: Node) -> tuple[Codes, Codes]:
        """Each row's class at ``node`` and the class sizes, from the base groups."""
        columns = [self.base[i][level] for i, level in enumerate(node)]
        inverse, first = group(columns, [self.cards[i][n] for i, n in enumerate(node)])
        sizes = np.bincount(inverse, weights=self.weights, minlength=len(first)).astype(np.int64)
        return inverse[self.row_group], sizes


def level_codes(
    frame: pl.DataFrame, hierarchies: Mapping[str, Hierarchy], *, ncp: bool
) -> tuple[list[list[Codes]], list[list[npt.NDArray[np.float64]]]]:
    """Each row's integer code (and NCP penalty) per quasi-identifier and level.

    Every level and every penalty is a function of the value (a penalty looks
    at the input values a released value covers, which are the same over
    distinct values as over rows), so both are computed on each column's
    distinct values and gathered to the rows: a hierarchy's expressions run
    on tens of values instead of every row. Codes are dense ranks, null 0.
    """
    codes: list[list[Codes]] = []
    penalties: list[list[npt.NDArray[np.float64]]] = []
    for q, hierarchy in hierarchies.items():
        rank = pl.col(q).rank("dense").fill_null(0).cast(pl.Int64)
        row_code = frame.select(rank).to_series().to_numpy()
        values = frame.select(pl.col(q).unique())
        # Level-0 codes are ranks over the same distinct values: position of each code.
        position = np.zeros(values.height + 1, dtype=np.int64)
        position[values.select(rank).to_series().to_numpy()] = np.arange(values.height)
        rows = position[row_code]
        levels = values.lazy().with_columns(
            expr.alias(f"g{level}") for level, expr in enumerate(hierarchy.expressions(q))
        )
        exprs = []
        numeric = pm.is_numeric(frame.schema[q])
        for level in range(hierarchy.height + 1):
            g = pl.col(f"g{level}")
            exprs.append(g.rank("dense").fill_null(0).cast(pl.Int64).alias(f"c{level}"))
            if ncp:
                exprs.append(pm.certainty_penalty(pl.col(q), g, numeric=numeric).alias(f"p{level}"))
        table = levels.select(exprs).collect()
        codes.append([table[f"c{lv}"].to_numpy()[rows] for lv in range(hierarchy.height + 1)])
        if ncp:
            penalties.append(
                [table[f"p{lv}"].to_numpy()[rows] for lv in range(hierarchy.height + 1)]
            )
    return codes, penalties


def entropies(levels: list[Codes]) -> list[float]:
    """ARX's precomputed non-uniform entropy of one column at each level, from row codes."""
    values = levels[0]
    counts = np.bincount(values)
    present = np.flatnonzero(counts)
    result = []
    for codes in levels:
        parent = np.zeros(len(counts), dtype=np.int64)
        parent[values] = codes
        released = np.bincount(codes)
        result.append(column_entropy(counts[present], released[parent[present]]))
    return result
