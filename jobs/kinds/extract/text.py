"""Free text and the final PII scan of an extract.

Plain columns are not generalized, but free text in them can hold names,
phone numbers, IDs and addresses. Every finding of the vectorized detection
path (:func:`anonymize.vector.scan_table`) in a text column is replaced by
``<ENTITY>`` (:func:`anonymize.transforms.redact.redact`); a number column
cannot hold a label, so a cell of it that holds personal information is set
to null. Weak name findings are redacted too: in a record-level release a
false positive costs a word, a false negative a person.

Detection has imperfect recall (an uncommon surname, a name that reads as
a word), but an extract knows the dataset's own direct identifiers. So a
second pass replaces every occurrence of any identifier value of the dataset
(names, IDs, phones, addresses of every record, two characters or more) by
``<column>`` with polars' Aho-Corasick ``str.replace_many``, longest values
first; in a number column, a cell equal to an identifier is nulled.

After redaction the released table is scanned again the way the airlock
scans outputs (:func:`anonymize.scan.without_stray_names`), and the counts
per entity and per column go into the risk report.

Both scans go through :func:`jobs.scan.scan_table`: names and addresses in
free-text cells are read by the trained tagger too (1 to 3 ms a cell), so
when the extract runs on Ray and its text holds at least
:data:`jobs.scan.IN_PROCESS_CELLS` free-text cells, the text columns are
scanned in row slices, one Ray task each (each worker loads the tagger once),
while the extract's task scans the structured columns; the findings are the
in-process scan's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from anonymize.detect.scan import without_stray_names
from anonymize.transforms.redact import redact
from jobs.scan import scan_table


def _counts(findings: pl.DataFrame, by: str) -> dict[str, int]:
    """Cells with a finding per value of ``by``; two matches of one entity in a cell count once."""
    cells = findings.unique(subset=["column", "row", "entity"])
    return {str(key): int(n) for key, n in cells.group_by(by).len().sort(by).iter_rows()}


def redact_free_text(
    frame: pl.DataFrame, columns: Sequence[str]
) -> tuple[pl.DataFrame, dict[str, dict[str, int]]]:
    """``frame`` with the personal information in ``columns`` redacted.

    Args:
        frame: The records to release.
        columns: The plain columns to clean (text is redacted, other cells nulled).

    Returns:
        The cleaned frame and, per column with findings, the cells redacted per entity.
    """
    names = [c for c in columns if c in frame.columns]
    if not names or frame.height == 0:
        return frame, {}
    findings = scan_table(frame, columns=names)
    if findings.is_empty():
        return frame, {}
    replaced: list[pl.Series] = []
    counts: dict[str, dict[str, int]] = {}
    for column in names:
        mine = findings.filter(pl.col("column") == column)
        if mine.is_empty():
            continue
        counts[column] = _counts(mine, "entity")
        if frame.schema[column] == pl.String:
            replaced.append(redact(frame, column, mine))
        else:
            rows = mine["row"].unique()
            hit = pl.int_range(pl.len()).is_in(rows.to_list())
            replaced.append(
                frame.select(
                    pl.when(hit).then(None).otherwise(pl.col(column)).alias(column)
                ).to_series()
            )
    return frame.with_columns(replaced), counts


#: Identifier values per Aho-Corasick automaton (bounds its memory on large datasets).
_CHUNK = 200_000


def redact_known_identifiers(
    frame: pl.DataFrame, columns: Sequence[str], identifiers: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, dict[str, int]]]:
    """``frame`` with every value of ``identifiers`` removed from the plain ``columns``.

    Args:
        frame: The records to release.
        columns: The plain columns to clean.
        identifiers: The dataset's direct-identifier columns (all records read).

    Returns:
        The cleaned frame and, per column, the cells changed per identifier column.
    """
    names = [c for c in columns if c in frame.columns]
    if not names or frame.height == 0 or identifiers.width == 0:
        return frame, {}
    known = (
        pl.concat(
            [
                identifiers.select(
                    pl.col(c).cast(pl.String).alias("value"), pl.lit(f"<{c}>").alias("label")
                )
                for c in identifiers.columns
            ]
        )
        .drop_nulls()
        .filter(pl.col("value").str.len_chars() >= 2)
        .unique(subset="value", keep="first", maintain_order=True)
        .sort(pl.col("value").str.len_chars(), descending=True, maintain_order=True)
    )
    counts: dict[str, dict[str, int]] = {}
    out = frame
    for column in names:
        before = out[column]
        if out.schema[column] == pl.String:
            after = before
            for start in range(0, known.height, _CHUNK):
                part = known.slice(start, _CHUNK)
                after = after.str.replace_many(
                    part["value"].to_list(), part["label"].to_list(), leftmost=True
                )  # leftmost-first: the longest value at a position wins
            labels = {
                label: int(
                    (
                        (
                            after.str.count_matches(label, literal=True)
                            - before.str.count_matches(label, literal=True)
                        )
                        > 0
                    ).sum()
                )
                for label in known["label"].unique().sort()
            }
        else:
            hit = before.cast(pl.String).is_in(known["value"].to_list())
            after = pl.select(pl.when(hit).then(None).otherwise(before)).to_series()
            labels = {"identifier": int(hit.sum())}
        changed = {
            label[1:-1] if label.startswith("<") else label: n for label, n in labels.items() if n
        }
        if changed:
            counts[column] = changed
            out = out.with_columns(after.alias(column))
    return out, counts


def scan_summary(frame: pl.DataFrame) -> dict[str, Any]:
    """What the airlock's scan finds in the released table: counts only, no values.

    Returns:
        ``{"cells_with_findings": n, "by_entity": {...}, "by_column": {...}}``.
    """
    if frame.height == 0 or frame.width == 0:
        return {"cells_with_findings": 0, "by_entity": {}, "by_column": {}}
    found = without_stray_names(scan_table(frame), frame)
    cells = found.unique(subset=["column", "row", "entity"])
    return {
        "cells_with_findings": cells.height,
        "by_entity": _counts(found, "entity"),
        "by_column": _counts(found, "column"),
    }
