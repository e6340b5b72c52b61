"""Non-uniform entropy, the information loss ARX precomputes, exactly as ARX computes it.

Per quasi-identifier, ``-sum a * log2(a / b)`` over the input's distinct
values, ``a`` a value's count and ``b`` the count of the released value it
became: the bits a record loses (``-log2`` of the chance of its value given
the released one) summed over records (Gionis and Tassa 2009). ARX
(``MetricMDNUEntropyPrecomputed``) computes it from the input's value counts
(``Cardinalities``), switches the sign, rounds each column down to 10
decimals (``Metric.round``) and sums the columns (the default aggregate,
weights 1). It depends on the levels only, not on which records are
suppressed, and rises along nested levels, so a lattice search knows every
node's loss before checking any.

ARX scales it by a generalization factor derived from ``gsFactor``: 1 for
any ``gsFactor <= 0.5``, which includes the default 0.5 that ARX's tests
keep (their ``createPrecomputedEntropyMetric(0.1, true)`` passes 0.1 as the
threshold of distinct values over rows below which ARX precomputes, not as
``gsFactor``). A factor would only scale every node's loss alike, so none is
exposed.

References:
    A. Gionis, T. Tassa. k-anonymization with minimal loss of information.
    IEEE TKDE 21(2), 2009.
    F. Prasser, F. Kohlmayer. Putting statistical disclosure control into
    practice: the ARX data anonymization tool. In Medical Data Privacy
    Handbook, Springer, 2015.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from anonymize.errors import AnonymizationError

#: ARX rounds each column's loss down to this many decimals (``Metric.round``).
_ARX_DIGITS = 1e10


def column_entropy(counts: npt.ArrayLike, released: npt.ArrayLike) -> float:
    """One column's non-uniform entropy from its value counts, as ARX computes it.

    Args:
        counts: ``a``, the count of each distinct input value (zeros are skipped).
        released: ``b``, the count of the released value each input value became.

    Returns:
        ``-sum a * log2(a / b)`` rounded down to 10 decimals (0 stays 0).

    >>> column_entropy([2, 2], [4, 4])  # two values merged into one: 1 bit per record
    4.0
    """
    a = np.asarray(counts, dtype=np.float64)
    b = np.asarray(released, dtype=np.float64)
    present = a > 0
    value = float(np.sum(a[present] * (np.log(a[present] / b[present]) / math.log(2))))
    return 0.0 if value == 0.0 else math.floor(-value * _ARX_DIGITS) / _ARX_DIGITS


def non_uniform_entropy(
    original: pl.DataFrame, generalized: pl.DataFrame, quasi_identifiers: Sequence[str]
) -> float:
    """ARX's precomputed non-uniform entropy of a generalization, summed over columns.

    Args:
        original: The input table.
        generalized: The same rows in the same order, generalized, suppressed
            records included (the measure ignores suppression); each released
            value must be a function of the input value.
        quasi_identifiers: The columns to score.

    Raises:
        AnonymizationError: The tables are not row-aligned or lack a column.
    """
    missing = [q for q in quasi_identifiers if q not in original.columns or q not in generalized]
    if missing:
        raise AnonymizationError(f"column '{missing[0]}' is not in both tables: check the names")
    if original.height != generalized.height:
        raise AnonymizationError(
            "non-uniform entropy needs the generalized table row-aligned with the input: "
            "generalize every record, suppressed ones included"
        )
    total = 0.0
    for q in quasi_identifiers:
        pairs = pl.DataFrame({"o": original[q], "g": generalized[q]})
        released = pairs.group_by("g").agg(pl.len().alias("b"))
        values = pairs.group_by("o").agg(pl.len().alias("a"), pl.col("g").first())
        values = values.join(released, on="g", how="left", nulls_equal=True)
        total += column_entropy(values["a"].to_numpy(), values["b"].to_numpy())
    return total
