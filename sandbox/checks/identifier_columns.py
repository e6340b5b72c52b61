"""``identifier_columns``: nearly unique columns, keys that link back to people.

A string or integer column with a distinct value on nearly every row
(:func:`sandbox.checks.support.cells.nearly_unique`) fails when it holds a
direct identifier's values or is named after one, passes as a group key of
statistics, warns as a records output's pseudonyms, and warns otherwise.
Count columns and public keys within their declared domain are no keys.
"""

from __future__ import annotations

from sandbox.checks.base import Check, CheckContext, Contents, Verdict, worst
from sandbox.checks.support import cells

NAME = "identifier_columns"
ON_EMPTY = False


def run(contents: Contents, context: CheckContext) -> Check:
    """Nearly unique string or integer columns: keys that could link back to people."""
    direct = cells.direct_identifiers(context.tags)
    skip = frozenset(context.count_columns)
    verdicts: list[tuple[Verdict, str]] = []
    for table in contents.tables:
        public = frozenset(cells.in_domain(table.frame, context.public_keys))
        best: dict[str, tuple[str, tuple[str, float]]] = {}
        for (name, dataset), matching in contents.matchings.items():
            if name != table.name:
                continue
            for column, (source, share) in matching.best.items():
                if share > best.get(column, ("", ("", 0.0)))[1][1]:
                    best[column] = (dataset, (source, share))
        for column in cells.nearly_unique(table.frame, skip | public):
            verdict, reason = cells.judge_identifier(
                column, context.product, best, direct, context.pseudonyms
            )
            if verdict != "pass":
                verdicts.append((verdict, f"'{table.name}': {reason}"))
    if not verdicts:
        return Check(NAME, "pass", "no column is nearly unique per row")
    return Check(NAME, worst(v for v, _ in verdicts), "; ".join(r for _, r in verdicts))
