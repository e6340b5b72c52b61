"""``raw_rows``: output rows that copy input records.

Columns are matched by content, even when renamed or re-ordered, and each
output row's matched values are counted among the input's rows
(:mod:`sandbox.checks.support.rows`). Records release their sensitive and
plain values as they are, by design: only identifying columns count there,
and a class of k people is what they may show.
"""

from __future__ import annotations

from sandbox.checks.base import Check, CheckContext, Contents, Verdict, worst
from sandbox.checks.support import rows

NAME = "raw_rows"
ON_EMPTY = False


def run(contents: Contents, context: CheckContext) -> Check:
    """Output rows that single out input records, table by table and dataset by dataset."""
    if not contents.inputs:
        return Check(NAME, "pass", "no input dataset to compare with")
    if not contents.tables:
        return Check(NAME, "pass", "no tabular output")
    verdicts: list[tuple[Verdict, str]] = []
    for table in contents.tables:
        for dataset, lazy in contents.inputs.items():
            matching = contents.matchings[(table.name, dataset)]
            tags = context.tags.get(dataset, {})
            if context.records:
                # Records release sensitive and plain values as they are, by design.
                kept = {o: i for o, i in matching.pairs.items() if tags.get(i) in rows.IDENTIFYING}
                matching = rows.Matching(dataset, kept, matching.best)
            # The promise of records is k (enforced on their quasi-identifiers), not the
            # small-cell threshold of statistics: a class of k people is what they may show.
            floor = context.k if context.records and context.k else context.min_cell
            singled = rows.singled_out(table.frame, matching.pairs, lazy, floor)
            judged = rows.judge(
                context.product, table.name, table.frame.height, matching, tags, singled
            )
            verdicts.append((judged.verdict, judged.reason))
    verdict = worst(v for v, _ in verdicts)
    shown = [r for v, r in verdicts if v == verdict]
    return Check(NAME, verdict, "; ".join(shown))
