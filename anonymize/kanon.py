"""Enforce k-anonymity, l-diversity and t-closeness with the least information loss.

Method: full-domain generalization over the lattice of hierarchy levels plus
bounded record suppression, searched in the spirit of ARX's Flash
(Kohlmayer et al. 2012). A node is one level per quasi-identifier; it is
*anonymous* when the records of classes that fail the privacy models number
at most ``max_suppression`` of the table (those records are removed).

Why a lattice and not Mondrian (LeFevre et al. 2006):

- Full-domain recoding releases each quasi-identifier at one documented
  granularity (age in 10-year bands, address to city): ordinary columns a
  steward can review and an operator can analyse. Mondrian's multidimensional
  local recoding cuts different ranges in different partitions (``[20, 34]``
  beside ``[25, 29]``), which is hard to review and to aggregate over.
- Hierarchies given as data (administrative divisions, income brackets) are
  used as they are, and every released label is one of their levels;
  Mondrian's data-dependent cuts produce ranges no hierarchy names.
- The search is exact: it returns the node of least loss among all
  full-domain solutions, where Mondrian's greedy cuts carry no optimality
  guarantee, and it is comparable: on ARX's own Adult benchmark (30,162 rows,
  9 quasi-identifiers, 12,960 nodes) it returns the optimum ARX's test suite
  asserts, to the level, the bit and the suppressed record
  (``benchmarks/kanon_adult.py``).

Loss metrics (``KAnonymitySpec.metric``):

- ``"ncp"`` (default): normalized certainty penalty (Xu et al. 2006;
  :mod:`anonymize.privacy_models`), the mean over quasi-identifier cells of the
  share of the domain a released value covers, a suppressed record costing 1
  per cell: in ``[0, 1]``, readable by a reviewer, not monotone.
- ``"non_uniform_entropy"``: ARX's precomputed non-uniform entropy
  (:mod:`anonymize.nu_entropy`), the bits records lose to generalization,
  suppression not counted: known per node before any check and monotone
  along the lattice. Offered to compare with ARX and because it weighs a
  merge by how many records it blurs, where NCP weighs it by the domain.

Search. Anonymity with suppression is monotone for k-anonymity and distinct
l-diversity (a record's class only grows as levels rise, so the records to
suppress only shrink), so Flash's predictive tagging applies: an anonymous
node tags all its generalizations anonymous, a non-anonymous one all its
specializations not. Paths are walked upward from the lowest untagged node
and binary-searched. Each metric's loss without suppression is a lower bound
of its loss (the loss itself for non-uniform entropy), known per node from
per-level sums; once a check finds an anonymous node, no path starts at a
node whose bound exceeds its exact loss. Entropy l-diversity and t-closeness
are monotone only without suppression (entropy is concave and EMD convex
under merging); with suppression they are checked exactly on the candidates
the monotone part admits, without that pruning. The anonymous candidates
are scored by branch and bound, by lower bound until it exceeds the best loss.

The search is :mod:`anonymize._search`. k-anonymity alone is checked on integer
codes with numpy, classes rolled up from counted specializations as ARX does
(:mod:`anonymize._classes`; ARX's Adult went from 9 s to about 0.6 s); l and t
keep polars ``group_by``. The report adds the generalization height, the
discernibility metric and the node's classes (before suppression, as ARX).

References:
    F. Kohlmayer, F. Prasser, C. Eckert, A. Kemper, K. Kuhn. Flash: efficient,
    stable and optimal k-anonymity. IEEE PASSAT / SocialCom 2012.
    K. LeFevre, D. DeWitt, R. Ramakrishnan. Mondrian multidimensional
    k-anonymity. ICDE 2006.
    K. El Emam et al. A globally optimal k-anonymity method for the
    de-identification of health data. JAMIA 16(5), 2009.
    J. Xu et al. Utility-based anonymization using local recoding. KDD 2006.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from anonymize import _classes
from anonymize import privacy_models as pm
from anonymize._search import Evaluation, best_node, flash
from anonymize.errors import AnonymizationError
from anonymize.hierarchies import Hierarchy
from policies.errors import InternalError

Node = tuple[int, ...]
#: The largest lattice searched (product of the hierarchies' heights + 1).
MAX_NODES = 100_000
_EPS = 1e-9
_S = "__s"
#: Exact diagnostics (rows, suppression limit in records) go to the server log; error
#: messages carry no number derived from the data, as they may reach an operator.
log = logging.getLogger(__name__)


class KAnonymitySpec(BaseModel):
    """Targets of an anonymized release, validated at the edge.

    Attributes:
        quasi_identifiers: The generalization hierarchy of each quasi-identifier.
        k: Minimum equivalence-class size.
        sensitive: The sensitive column, needed for l and t.
        l_diversity: Minimum l, distinct or entropy per ``l_kind``.
        t_closeness: Maximum earth mover's distance to the table's distribution.
        ordered: Ordered distance for t; by default for numbers and dates.
        max_suppression: Largest share of records that may be removed.
        metric: The information loss minimized: ``"ncp"``, normalized certainty
            penalty with suppressed cells costing 1, or ``"non_uniform_entropy"``,
            ARX's precomputed non-uniform entropy (suppression not counted).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    quasi_identifiers: dict[str, Hierarchy] = Field(min_length=1)
    k: int = Field(ge=1)
    sensitive: str | None = None
    l_diversity: int | None = Field(default=None, ge=2)
    l_kind: Literal["distinct", "entropy"] = "distinct"
    t_closeness: float | None = Field(default=None, gt=0, le=1)
    ordered: bool | None = None
    max_suppression: float = Field(default=0.05, ge=0, lt=1)
    metric: Literal["ncp", "non_uniform_entropy"] = "ncp"

    @model_validator(mode="after")
    def _sensitive_when_needed(self) -> KAnonymitySpec:
        needs = self.l_diversity is not None or self.t_closeness is not None
        if needs and self.sensitive is None:
            raise ValueError("l-diversity and t-closeness need a sensitive column")
        if self.sensitive in self.quasi_identifiers:
            raise ValueError("the sensitive column cannot also be a quasi-identifier")
        return self


@dataclass(frozen=True, slots=True)
class KAnonymityReport:
    """What :func:`enforce_k_anonymity` achieved; counts and measures only, no data values."""

    k_target: int
    k_achieved: int
    l_target: int | None
    l_kind: str
    l_achieved: float | None
    t_target: float | None
    t_achieved: float | None
    rows_in: int
    rows_suppressed: int
    suppression_limit: int
    levels: dict[str, int]
    heights: dict[str, int]
    information_loss: float
    generalization_height: float
    discernibility: int
    #: Classes of the chosen node before suppression (ARX's count); the released
    #: table holds those that pass the models.
    equivalence_classes: int
    nodes_total: int
    nodes_checked: int
    seconds: float
    #: The metric ``information_loss`` is in, named for a reader.
    metric: str = "normalized certainty penalty (Xu et al. 2006), suppressed cells = 1"


#: How the report names each metric.
_METRICS = {
    "ncp": "normalized certainty penalty (Xu et al. 2006), suppressed cells = 1",
    "non_uniform_entropy": "non-uniform entropy, ARX's precomputed variant (bits), "
    "suppression not counted",
}


class _Lattice:
    """Level codes, the loss metric's per-level terms and the node checks of one table."""

    def __init__(self, frame: pl.DataFrame, spec: KAnonymitySpec) -> None:
        self.spec = spec
        self.rows = frame.height
        self.qis = list(spec.quasi_identifiers)
        self.heights = [spec.quasi_identifiers[q].height for q in self.qis]
        self.limit = math.floor(spec.max_suppression * frame.height)
        self.ncp = spec.metric == "ncp"
        self._touched: set[Node] = set()
        self._seen: dict[tuple[Node, bool], Evaluation] = {}
        self._suppressed: dict[Node, int] = {}
        codes, penalties = _classes.level_codes(frame, spec.quasi_identifiers, ncp=self.ncp)
        columns: dict[str, npt.NDArray[np.generic]] = {
            f"c{i}_{lv}": level for i, column in enumerate(codes) for lv, level in enumerate(column)
        }
        columns |= {
            f"p{i}_{lv}": pen for i, column in enumerate(penalties) for lv, pen in enumerate(column)
        }
        self.data = pl.DataFrame(columns)
        self.domain: pm.SensitiveDomain | None = None
        if spec.sensitive is not None:
            self.domain = pm.SensitiveDomain.of(frame[spec.sensitive], ordered=spec.ordered)
            self.data = self.data.with_columns(
                frame.select(self.domain.codes(spec.sensitive).alias(_S)).to_series()
            )
        # Per column and level: NCP's penalty sum, or the non-uniform entropy.
        if self.ncp:
            self.pen = penalties
            sums = self.data.select(pl.col(r"^p\d+_\d+$").sum()).row(0, named=True)
            self.terms = [
                [float(sums[f"p{i}_{lv}"]) for lv in range(h + 1)]
                for i, h in enumerate(self.heights)
            ]
        else:
            self.terms = [_classes.entropies(column) for column in codes]
        self._bounds = self._all_bounds()
        # k-anonymity alone is checked on numpy codes; l and t on polars classes.
        plain = spec.l_diversity is None and spec.t_closeness is None
        self.counter = _classes.ClassCounter(codes) if plain else None
        # The full check is monotone when only k and distinct l apply, or nothing is suppressed.
        self.monotone = self.limit == 0 or (
            spec.t_closeness is None and (spec.l_diversity is None or spec.l_kind == "distinct")
        )

    @property
    def checked(self) -> int:
        """The nodes whose classes were counted."""
        return len(self._touched)

    def bound(self, node: Node) -> float:
        """A lower bound of the node's loss: its loss without suppression (entropy's loss)."""
        return self._bounds[node]

    def _all_bounds(self) -> dict[Node, float]:
        """Every node's bound at once (the search asks tens of thousands of times)."""
        nodes = list(itertools.product(*(range(h + 1) for h in self.heights)))
        grid = np.array(nodes, dtype=np.int64).reshape(len(nodes), len(self.heights))
        total = np.zeros(len(nodes))
        for i, terms in enumerate(self.terms):  # column by column, as a sum over a node would
            total += np.asarray(terms)[grid[:, i]]
        if self.ncp:
            total /= self.rows * len(self.heights)
        return dict(zip(nodes, total.tolist(), strict=True))

    def anonymous(self, node: Node) -> bool:
        """Whether ``node`` passes the monotone part of the models within the limit."""
        if self.counter is None:
            return self.evaluate(node, full=self.monotone).anonymous
        if node not in self._suppressed:
            self._touched.add(node)
            sizes = self.counter.classes(node)
            self._suppressed[node] = int(sizes[sizes < self.spec.k].sum())
        return self._suppressed[node] <= self.limit

    def classes(self, node: Node, *, full: bool) -> pl.DataFrame:
        """The node's classes with ``ok`` (passes the models) and penalty sums."""
        spec = self.spec
        keys = [f"c{i}_{lv}" for i, lv in enumerate(node)]
        sums = (
            {"penalty": pl.sum_horizontal([pl.col(f"p{i}_{lv}") for i, lv in enumerate(node)])}
            if self.ncp
            else None
        )
        table = pm.class_statistics(
            self.data,
            keys,
            _S if spec.l_diversity is not None or (full and spec.t_closeness is not None) else None,
            entropy=full and spec.l_diversity is not None and spec.l_kind == "entropy",
            domain=self.domain if full and spec.t_closeness is not None else None,
            sums=sums,
        )
        ok = pl.col("size") >= spec.k
        if spec.l_diversity is not None:
            if spec.l_kind == "distinct" or not full:
                ok &= pl.col("distinct") >= spec.l_diversity
            else:
                ok &= pl.col("entropy") >= math.log(spec.l_diversity) - _EPS
        if full and spec.t_closeness is not None:
            ok &= pl.col("emd") <= spec.t_closeness + _EPS
        return table.with_columns(ok.alias("ok"))

    def keep(self, node: Node) -> tuple[pl.Series, int]:
        """Per row, whether its class at ``node`` passes every model; and the node's classes.

        The classes are counted before suppression, as ARX reports them.
        """
        if self.counter is not None:
            row_class, sizes = self.counter.row_classes(node)
            return pl.Series("ok", sizes[row_class] >= self.spec.k), len(sizes)
        keys = [f"c{i}_{lv}" for i, lv in enumerate(node)]
        passing = self.classes(node, full=True).select(*keys, "ok")
        joined = self.data.select(keys).join(passing, on=keys, how="left", maintain_order="left")
        return joined["ok"], passing.height

    def evaluate(self, node: Node, *, full: bool) -> Evaluation:
        """Suppression and exact loss of ``node``; ``full`` adds the non-monotone models."""
        full = full or self.monotone  # when monotone, the partial check is the full one
        if (node, full) in self._seen:
            return self._seen[(node, full)]
        self._touched.add(node)
        width = len(node)
        if self.counter is not None and not self.ncp:
            self.anonymous(node)
            suppressed, lost = self._suppressed[node], 0.0
        elif self.counter is not None:
            row_class, sizes = self.counter.row_classes(node)
            failing = sizes[row_class] < self.spec.k
            suppressed = int(failing.sum())
            lost = sum(float(self.pen[i][lv][failing].sum()) for i, lv in enumerate(node))
        else:
            failed = self.classes(node, full=full).filter(~pl.col("ok"))
            suppressed = int(failed["size"].sum())
            lost = float(failed["penalty"].sum()) if self.ncp else 0.0
        if self.ncp:
            total = self.bound(node) * self.rows * width
            loss = (total - lost + suppressed * width) / (self.rows * width)
        else:
            loss = self.bound(node)
        result = Evaluation(node, suppressed <= self.limit, suppressed, loss)
        self._seen[(node, full)] = result
        return result


def _unreachable(spec: KAnonymitySpec, lattice: _Lattice) -> AnonymizationError:
    """The error when no node is anonymous: the spec's targets only, no count of the data."""
    log.warning(
        "k-anonymity unreachable: %d rows, at most %d suppressed, %d of %d nodes checked",
        lattice.rows,
        lattice.limit,
        lattice.checked,
        math.prod(h + 1 for h in lattice.heights),
    )
    targets = [f"k={spec.k}"]
    if spec.l_diversity is not None:
        targets.append(f"{spec.l_kind} l={spec.l_diversity}")
    if spec.t_closeness is not None:
        targets.append(f"t={spec.t_closeness}")
    return AnonymizationError(
        f"no generalization of the quasi-identifiers reaches {', '.join(targets)} with "
        f"max_suppression={spec.max_suppression:g}: lower the targets, allow "
        "more suppression, add coarser hierarchy levels, or release fewer quasi-identifiers"
    )


def _check(frame: pl.DataFrame, spec: KAnonymitySpec) -> None:
    if frame.height == 0:
        raise AnonymizationError("the table is empty: there is nothing to anonymize")
    for column, hierarchy in spec.quasi_identifiers.items():
        hierarchy.check_column(frame, column)
    if spec.sensitive is not None and spec.sensitive not in frame.columns:
        raise AnonymizationError(
            f"sensitive column '{spec.sensitive}' is not in the table: check the spec"
        )
    if spec.l_diversity is not None and spec.sensitive is not None:
        distinct = frame[spec.sensitive].drop_nulls().n_unique()
        if distinct < spec.l_diversity:
            log.warning("l-diversity unreachable: %d distinct sensitive value(s)", distinct)
            raise AnonymizationError(
                f"column '{spec.sensitive}' has fewer distinct values than l={spec.l_diversity} "
                "in the whole table, so no release can be l-diverse: lower l"
            )
    nodes = math.prod(h.height + 1 for h in spec.quasi_identifiers.values())
    if nodes > MAX_NODES:
        raise AnonymizationError(
            f"the hierarchies span {nodes} level combinations (limit {MAX_NODES}): "
            "use fewer levels or fewer quasi-identifiers"
        )


def enforce_k_anonymity(
    frame: pl.DataFrame, spec: KAnonymitySpec
) -> tuple[pl.DataFrame, KAnonymityReport]:
    """Generalize and suppress ``frame`` to meet ``spec`` with the least loss (``spec.metric``).

    Args:
        frame: The table; columns other than the quasi-identifiers pass through
            (remove or transform direct identifiers first, see
            :func:`anonymize.transforms.apply`).
        spec: Hierarchies, targets and the suppression limit.

    Returns:
        The released table (quasi-identifiers at their chosen levels, strings
        above level 0; suppressed records removed; row order kept) and the report.

    Raises:
        AnonymizationError: A column is missing or of the wrong type, or no
            node meets the targets within the suppression limit. Messages name
            columns and the spec's numbers, never a count of the data (they may
            reach an operator, outside any privacy budget); counts go to the log.
    """
    started = time.perf_counter()
    _check(frame, spec)
    lattice = _Lattice(frame, spec)
    best = best_node(lattice, flash(lattice))
    if best is None:
        raise _unreachable(spec, lattice)
    keep, classes = lattice.keep(best.node)
    released = frame.with_columns(
        spec.quasi_identifiers[q].expr(q, lv) for q, lv in zip(lattice.qis, best.node, strict=True)
    ).filter(keep)
    report = _report(frame, released, spec, lattice, best, classes, time.perf_counter() - started)
    return released, report


def _report(
    frame: pl.DataFrame,
    released: pl.DataFrame,
    spec: KAnonymitySpec,
    lattice: _Lattice,
    best: Evaluation,
    classes: int,
    seconds: float,
) -> KAnonymityReport:
    reference = frame[spec.sensitive] if spec.sensitive is not None else None
    measured = pm.measure(
        released, lattice.qis, spec.sensitive, ordered=spec.ordered, reference=reference
    )
    l_achieved = measured.l_distinct if spec.l_kind == "distinct" else measured.l_entropy
    short = (
        measured.k < spec.k
        or (spec.l_diversity is not None and (l_achieved or 0) < spec.l_diversity - 1e-6)
        or (spec.t_closeness is not None and (measured.t or 0) > spec.t_closeness + 1e-6)
        or best.suppressed > lattice.limit
    )
    if short:  # the search and the independent measure disagree: never release
        raise InternalError("k-anonymity enforcement produced a table that misses its targets")
    levels = dict(zip(lattice.qis, best.node, strict=True))
    heights = dict(zip(lattice.qis, lattice.heights, strict=True))
    return KAnonymityReport(
        k_target=spec.k,
        k_achieved=measured.k,
        l_target=spec.l_diversity,
        l_kind=spec.l_kind,
        l_achieved=None if l_achieved is None else round(float(l_achieved), 9),
        t_target=spec.t_closeness,
        t_achieved=None if measured.t is None else round(measured.t, 9),
        rows_in=frame.height,
        rows_suppressed=best.suppressed,
        suppression_limit=lattice.limit,
        levels=levels,
        heights=heights,
        information_loss=best.loss,
        generalization_height=pm.generalization_height(levels, heights),
        discernibility=pm.discernibility(released, lattice.qis, suppressed=best.suppressed),
        equivalence_classes=classes,
        nodes_total=math.prod(h + 1 for h in lattice.heights),
        nodes_checked=lattice.checked,
        seconds=round(seconds, 4),
        metric=_METRICS[spec.metric],
    )


__all__ = ["MAX_NODES", "KAnonymityReport", "KAnonymitySpec", "enforce_k_anonymity"]
