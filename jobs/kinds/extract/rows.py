"""Records of an extract before anonymization: one per person, identifiers as pseudonyms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from anonymize.transforms.pseudonym import pseudonymize
from jobs.errors import InternalError
from jobs.privacy_unit import known_unit

_ROW = "__extract_row"


def one_per_person(
    frame: pl.DataFrame, unit: str | None, seed: int | None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """One record per person, chosen at random (seeded); rows with no unit are dropped.

    k-anonymity counts records: with several records per person a class of k
    records could hold fewer than k people. Keeping one makes every class of
    k records k people (see :mod:`jobs.kinds.extract.engine`, step 2).

    Args:
        frame: The records read.
        unit: The privacy-unit column, or ``None`` when every row is a person.
        seed: Seed of the choice; ``None`` draws fresh randomness.

    Returns:
        The records kept and what was done, for the report (counts only).
    """
    if unit is None:
        return frame, {"privacy_unit": None, "rule": "one row per person (dataset contract)"}
    rows = frame.height
    known = frame.filter(known_unit(unit, frame.schema[unit]))
    chosen = (
        known.with_row_index(_ROW)
        .sample(fraction=1.0, shuffle=True, seed=seed)
        .unique(subset=[unit], keep="first")
        .sort(_ROW)
        .drop(_ROW)
    )
    return chosen, {
        "privacy_unit": unit,
        "rule": "one row per person kept (seeded random choice): k counts people",
        "rows_read": rows,
        "rows_without_unit_dropped": rows - known.height,
        "rows_of_repeat_persons_dropped": known.height - chosen.height,
    }


def pseudonymized(frame: pl.DataFrame, columns: tuple[str, ...], key: bytes) -> pl.DataFrame:
    """The columns replaced by their hex HMAC pseudonyms (one key domain per column)."""
    if not columns:
        return frame
    return frame.with_columns(
        pseudonymize(frame[c].cast(pl.String), key, domain=c, output="hex") for c in columns
    )


def pseudonym_key(options: Mapping[str, Any]) -> bytes:
    """The grant's pseudonym key from the task's options.

    Raises:
        InternalError: The service passed no valid hex key.
    """
    try:
        return bytes.fromhex(str(options["pseudonym_key"]))
    except (KeyError, ValueError) as err:
        raise InternalError("the task carries no valid pseudonym key for its grant") from err
