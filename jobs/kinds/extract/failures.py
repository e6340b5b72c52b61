"""Failures of an extract, told to its operator without a number from the data.

A failed job's message is stored as ``job.error`` and shown to the operator
who submitted it, at ε = 0, as often as they like and with no review. A
count in it ("142 values have no entry", "at most 7 suppressed records",
"all its 4 records") would answer an exact counting query outside the
privacy budget. So every message built here names the dataset, the columns,
the spec's own numbers (k, l, ``suppression_limit``) and what to change;
the exact diagnostics (the anonymizer's message and its counts) go to the
server log, which stays inside the boundary.

The messages are built here from the spec rather than passed through from
:mod:`anonymize` so that a future anonymizer message with a count cannot
reach an operator through this path.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import polars as pl

from anonymize.errors import AnonymizationError
from anonymize.kanon import MAX_NODES
from jobs.errors import InvalidJobSpec, JobFailed, redacted_traceback
from jobs.kinds.extract.hierarchies import Choice

log = logging.getLogger("jobs.kinds.extract.engine")

#: Why a hierarchy of each kind can fail its column, and what to change.
_MISFIT = {
    "interval": "the column is not numeric: choose another kind",
    "cuts": "the column is not numeric: choose another kind",
    "date": (
        "the column holds values that are not dates or ISO 'YYYY-MM-DD' strings: convert "
        "them, or choose another kind"
    ),
    "map": (
        "the column holds values that have no entry in the hierarchy's map at some level: "
        "give a map that covers every value of the column at every level"
    ),
}


def targets(k: int, l: int | None) -> str:  # noqa: E741 - the model's own name
    """The targets as the operator wrote or was given them, e.g. ``k=5, l=2``."""
    return f"k={k}" + (f", l={l}" if l else "")


def no_records(dataset: str, unit: str | None) -> JobFailed:
    """The error when no record is left to release (every row lacked a privacy unit)."""
    why = f"rows without a value in the privacy-unit column '{unit}' are dropped" if unit else ""
    return JobFailed(
        f"the extract of '{dataset}' has no records left to release"
        + (f" ({why})" if why else "")
        + ": ask the data bureau to check the dataset"
    )


def one_class(dataset: str, k: int, l: int | None, sensitive: str | None) -> JobFailed:  # noqa: E741
    """The error when the single class of an extract without quasi-identifiers misses k or l."""
    missed = f"k={k}" + (f" or l={l} distinct values of '{sensitive}'" if l and sensitive else "")
    return JobFailed(
        f"the extract of '{dataset}' releases no quasi-identifier, so all its records form "
        f"one class, which misses {missed}: extract a larger dataset, or lower l"
    )


def check_fit(frame: pl.DataFrame, dataset: str, choices: Mapping[str, Choice]) -> None:
    """Raise unless every quasi-identifier's hierarchy can generalize its column.

    Raises:
        JobFailed: A hierarchy does not fit its column; the message names the
            column, the hierarchy's kind and what to change, never how many
            values failed.
    """
    for column, choice in choices.items():
        try:
            choice.hierarchy.check_column(frame, column)
        except AnonymizationError as err:
            log.warning("extract of %r: hierarchy of %r does not fit: %s", dataset, column, err)
            kind = choice.hierarchy.kind
            if column not in frame.columns:
                why = "the column is not in the data read: ask the data bureau to check the dataset"
            else:
                why = _MISFIT.get(kind, "see the hierarchy's documentation")
            if choice.source == "spec":
                why += ", or leave the column out of hierarchies to have the sandbox choose one"
            else:
                why += "; the sandbox chose this hierarchy: name one in hierarchies"
            raise JobFailed(
                f"the {kind} hierarchy of column '{column}' cannot generalize it: {why}"
            ) from None


def check_searchable(dataset: str, choices: Mapping[str, Choice]) -> None:
    """Raise when the hierarchies span more level combinations than the search visits.

    Raises:
        JobFailed: The lattice is too large; the message names the columns only.
    """
    nodes = math.prod(c.hierarchy.height + 1 for c in choices.values())
    if nodes > MAX_NODES:
        log.warning("extract of %r: the lattice has %d nodes", dataset, nodes)
        raise JobFailed(
            f"the hierarchies of the quasi-identifiers of the extract of '{dataset}' "
            f"({', '.join(choices)}) give too many combinations of levels to search: "
            "release fewer quasi-identifiers, or give hierarchies with fewer levels"
        )


def unreachable(
    dataset: str,
    wanted: str,
    quasi_identifiers: Sequence[str],
    suppression_limit: float,
    err: AnonymizationError,
) -> JobFailed:
    """The error when no generalization reaches the targets; ``err`` goes to the log only."""
    log.warning("extract of %r cannot reach %s: %s", dataset, wanted, err)
    return JobFailed(
        f"the extract of '{dataset}' cannot reach {wanted} on the quasi-identifiers "
        f"({', '.join(quasi_identifiers)}) with suppression_limit={suppression_limit:g}: "
        "release fewer quasi-identifiers, raise suppression_limit (at most 0.5), give "
        "coarser hierarchies, or lower l"
    )


@contextmanager
def data_errors() -> Iterator[None]:
    """Errors met while processing the data as :class:`JobFailed` without their details.

    Raises:
        JobFailed: In place of an :class:`InvalidJobSpec`, an
            :class:`AnonymizationError` or a polars error; the details go to the log.
    """
    try:
        yield
    except InvalidJobSpec as err:  # built from the spec and the catalog only
        raise JobFailed(str(err)) from None
    except AnonymizationError as err:
        log.warning("extract could not be anonymized: %s", err)
        raise JobFailed(
            "the extract could not be anonymized; the data bureau can see the server log"
        ) from None
    except pl.exceptions.PolarsError as err:
        # Polars messages can quote values: the server log stays inside the boundary.
        log.error("extract failed while processing its data\n%s", redacted_traceback(err))
        raise JobFailed(
            f"the extract failed while processing the data ({type(err).__name__}); "
            "the data bureau can see the server log"
        ) from None


__all__ = [
    "check_fit",
    "check_searchable",
    "data_errors",
    "no_records",
    "one_class",
    "targets",
    "unreachable",
]
