"""The lattice search of :mod:`anonymize.kanon`: Flash's tagging, then branch and bound.

Kept apart from the node checks so the search reads on its own: it sees a
lattice only through :class:`Lattice` (the heights, a lower bound of each
node's loss, the monotone check and the exact evaluation), whatever the
models and the metric. The method and why it is exact are in
:mod:`anonymize.kanon`'s docstring.

References:
    F. Kohlmayer, F. Prasser, C. Eckert, A. Kemper, K. Kuhn. Flash: efficient,
    stable and optimal k-anonymity. IEEE PASSAT / SocialCom 2012.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Protocol

Node = tuple[int, ...]
#: Losses closer than this are equal (ties go to the lower, then the smaller node).
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A node checked against every model: within the suppression limit, and its loss."""

    node: Node
    anonymous: bool
    suppressed: int
    loss: float


class Lattice(Protocol):
    """What the search needs of a table's lattice."""

    heights: list[int]
    #: Whether :meth:`anonymous` is the full check (so its answers are exact).
    monotone: bool

    def bound(self, node: Node) -> float:
        """A lower bound of the node's loss."""
        ...

    def anonymous(self, node: Node) -> bool:
        """The monotone part of the models, within the suppression limit."""
        ...

    def evaluate(self, node: Node, *, full: bool) -> Evaluation:
        """Suppression and exact loss; ``full`` adds the non-monotone models."""
        ...


def _neighbours(node: Node, heights: list[int], step: int) -> list[Node]:
    """The nodes one level up (``step=1``) or down (``step=-1``) in one quasi-identifier."""
    return [
        (*node[:i], level + step, *node[i + 1 :])
        for i, level in enumerate(node)
        if 0 <= level + step <= heights[i]
    ]


def _tag(status: dict[Node, bool], node: Node, value: bool, heights: list[int]) -> None:
    """Predictive tagging: anonymity goes up the lattice, its absence down."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current in status:
            continue
        status[current] = value
        stack.extend(_neighbours(current, heights, 1 if value else -1))


def flash(lattice: Lattice) -> dict[Node, bool]:
    """Tag anonymous or not every node that could be optimal, checking as few as possible.

    Flash's path search, with one pruning when the checks are exact (monotone
    models): a checked anonymous node's exact loss bounds the optimum, so no
    path starts at a node whose lower bound exceeds it, and such a node may
    stay untagged. Paths still climb through costlier nodes: a non-anonymous
    one tags every cheaper node below it at once.
    """
    status: dict[Node, bool] = {}
    heights = lattice.heights
    best = math.inf
    nodes = itertools.product(*(range(h + 1) for h in heights))
    for start in sorted(nodes, key=lambda n: (sum(n), lattice.bound(n), n)):
        if start in status or lattice.bound(start) > best + EPS:
            continue
        path = [start]
        while ups := [n for n in _neighbours(path[-1], heights, 1) if n not in status]:
            path.append(min(ups, key=lambda n: (lattice.bound(n), n)))
        low, high = 0, len(path) - 1
        while low <= high:
            mid = (low + high) // 2
            node = path[mid]
            anonymous = status.get(node)
            if anonymous is None:
                anonymous = lattice.anonymous(node)
                _tag(status, node, anonymous, heights)
                if anonymous and lattice.monotone:
                    best = min(best, lattice.evaluate(node, full=True).loss)
            if anonymous:
                high = mid - 1
            else:
                low = mid + 1
    return status


def best_node(lattice: Lattice, status: dict[Node, bool]) -> Evaluation | None:
    """Branch and bound over the anonymous nodes, cheapest lower bound first."""
    best: Evaluation | None = None
    candidates = sorted(
        (n for n, ok in status.items() if ok), key=lambda n: (lattice.bound(n), sum(n), n)
    )
    for node in candidates:
        if best is not None and lattice.bound(node) > best.loss + EPS:
            break
        result = lattice.evaluate(node, full=True)
        if result.anonymous and (best is None or result.loss < best.loss - EPS):
            best = result
    return best
