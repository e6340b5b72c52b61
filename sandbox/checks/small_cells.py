"""``small_cells``: counts below the minimum cell size, and classes of records smaller than k.

Statistics declare their count columns (histogram bins included), and a noisy
zero is small; a null is a cell the release suppressed (one cell at a time, named
in the aggregate's ``suppressed`` column: :mod:`jobs.kinds.aggregate.release`), so
a released aggregate passes and any count it left under ``min_cell`` fails; in
other tables count-like columns are found by name and content
(:func:`sandbox.checks.support.cells.count_like`), and a structural zero shows
nobody. Records are judged by their equivalence classes over the
inputs' quasi-identifiers.
"""

from __future__ import annotations

from sandbox.checks.base import Check, CheckContext, Contents
from sandbox.checks.support import cells

NAME = "small_cells"
ON_EMPTY = False


def run(contents: Contents, context: CheckContext) -> Check:
    """Counts below ``min_cell``; for records, equivalence classes below k."""
    if not contents.tables:
        return Check(NAME, "pass", "no tabular output")
    if context.records:
        return _small_classes(contents, context)
    reasons: list[str] = []
    checked: list[str] = []
    for table in contents.tables:
        if context.statistics:
            columns = [c for c in context.count_columns if c in table.frame.columns]
        else:
            columns = cells.count_like(table.frame)
        checked += columns
        small = cells.small_counts(table.frame, columns, context.min_cell, zero=context.statistics)
        if small:
            reasons.append(
                f"'{table.name}': {small} cells of {', '.join(columns)} show a count below "
                f"{context.min_cell}"
            )
    if reasons:
        return Check(NAME, "fail", "; ".join(reasons))
    if not checked:
        return Check(NAME, "pass", "no count column found")
    return Check(NAME, "pass", f"every count ({', '.join(checked)}) is at least {context.min_cell}")


def _small_classes(contents: Contents, context: CheckContext) -> Check:
    k = context.k or context.min_cell
    quasi = cells.quasi_identifiers(context.tags)
    reasons: list[str] = []
    seen: list[str] = []
    for table in contents.tables:
        columns = [c for c in table.frame.columns if c in quasi]
        seen += columns
        if not columns:
            continue
        classes, members = cells.small_classes(table.frame, columns, k)
        if classes:
            reasons.append(
                f"'{table.name}': {classes} equivalence classes ({members} rows) over "
                f"{', '.join(columns)} are smaller than k={k}"
            )
    if reasons:
        return Check(NAME, "fail", "; ".join(reasons))
    if not seen:
        return Check(NAME, "pass", "no quasi-identifier column released")
    return Check(
        NAME, "pass", f"every class over {', '.join(sorted(set(seen)))} has k={k} rows or more"
    )
