"""The steward's hierarchies of an extract: named ones resolved, stored ones used by default.

A bureau's steward may store one generalization hierarchy per column with the dataset,
in ARX's CSV format (:class:`anonymize.hierarchies.TableHierarchy`). The service hands
them to the kind in its options (:func:`options_of`, keyed by name); the spec may name
one (``{"kind": "named", "name": ...}``), and a quasi-identifier for which the spec
gives none uses the one stored for it: the steward knows the domain (which districts
form which city, which schools a degree), the automatic choice only guesses.

The report describes a steward's hierarchy by name and height only: its lines are the
bureau's, and a reviewer who needs them reads them in the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from anonymize.hierarchies import Hierarchy, TableHierarchy
from jobs.errors import InvalidJobSpec
from jobs.facts import StoredHierarchy
from jobs.kinds.extract.hierarchies import Choice
from jobs.kinds.extract.spec import ExtractSpec, NamedHierarchy

__all__ = ["STEWARD", "check_named", "options_of", "resolve", "sourced"]

#: The ``source`` the report gives a steward's hierarchy.
STEWARD = "steward"


def options_of(stored: Sequence[StoredHierarchy]) -> dict[str, dict[str, str]]:
    """The stored hierarchies as the kind's options carry them: name -> column and CSV."""
    return {h.name: {"column": h.column, "csv": h.csv} for h in stored}


def _stored(options: Mapping[str, Any]) -> Mapping[str, Mapping[str, str]]:
    return options.get("hierarchies") or {}


def check_named(spec: ExtractSpec, options: Mapping[str, Any]) -> None:
    """Raise unless every hierarchy the spec names is stored with the dataset.

    Raises:
        InvalidJobSpec: A name the dataset has no hierarchy of (the message
            names the spec's name and column, nothing of the data).
    """
    stored = _stored(options)
    for column, hierarchy in spec.hierarchies.items():
        if isinstance(hierarchy, NamedHierarchy) and hierarchy.name not in stored:
            raise InvalidJobSpec(
                f"dataset '{spec.dataset}' has no hierarchy named '{hierarchy.name}' (asked "
                f"for column '{column}'): list its hierarchies with GET "
                f"/v1/datasets/{spec.dataset}/hierarchies, or give the hierarchy inline"
            )
        # A steward's hierarchy is for its own column: applied to another, the run's "value
        # without a line" refusal would tell whether that column's values are among its lines.
        if isinstance(hierarchy, NamedHierarchy) and stored[hierarchy.name]["column"] != column:
            raise InvalidJobSpec(
                f"hierarchy '{hierarchy.name}' of dataset '{spec.dataset}' is stored for "
                f"another column than '{column}': name it only for its own column"
            )


def resolve(
    spec: ExtractSpec, options: Mapping[str, Any], quasi_identifiers: Sequence[str]
) -> tuple[dict[str, Hierarchy], dict[str, str]]:
    """The hierarchies given for the quasi-identifiers, and which of them are the steward's.

    Args:
        spec: The extract spec (named hierarchies checked by :func:`check_named`).
        options: The kind's options, with the stored hierarchies.
        quasi_identifiers: The released quasi-identifiers.

    Returns:
        Column -> hierarchy (the spec's inline ones, the named ones, and the stored
        one of each quasi-identifier the spec gives none for), and column -> the
        name of the steward's hierarchy used for it.

    Raises:
        InvalidJobSpec: A named hierarchy is not stored with the dataset.
    """
    check_named(spec, options)
    stored = _stored(options)
    by_column = {entry["column"]: name for name, entry in stored.items()}
    given: dict[str, Hierarchy] = {}
    steward: dict[str, str] = {}
    for column in quasi_identifiers:
        hierarchy = spec.hierarchies.get(column)
        if hierarchy is None and column in by_column:
            hierarchy = NamedHierarchy(name=by_column[column])
        if isinstance(hierarchy, NamedHierarchy):
            given[column] = TableHierarchy.from_csv(stored[hierarchy.name]["csv"])
            steward[column] = hierarchy.name
        elif hierarchy is not None:
            given[column] = hierarchy
    return given, steward


def sourced(choices: Mapping[str, Choice], steward: Mapping[str, str]) -> dict[str, Choice]:
    """The choices with the steward's hierarchies marked ``steward`` and described by name."""
    return {
        column: Choice(
            choice.hierarchy,
            STEWARD,
            {"kind": "table", "name": steward[column], "height": choice.hierarchy.height},
        )
        if column in steward
        else choice
        for column, choice in choices.items()
    }
