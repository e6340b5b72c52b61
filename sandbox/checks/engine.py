"""Run every registered check on a quarantined output.

Each check yields a verdict (``pass``, ``warn`` or ``fail``) and a reason a
reviewer can read; a ``fail`` blocks approval unless the steward overrides it
with a written reason. Reasons carry counts, file and column names, never
values. The engine reads the output once (:class:`sandbox.checks.base.Contents`):
it opens its files by content (:mod:`sandbox.checks.support.files`), reads
them within one budget (:mod:`sandbox.checks.support.tables`), scans the input
datasets lazily and matches the tables' columns with theirs
(:mod:`sandbox.checks.support.rows`); then it runs the checks of
:data:`sandbox.checks.registry.CHECKS` in order, masks any file or column name
that holds an identifier and bounds every reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import polars as pl

from policies.catalog import ColumnTag, Product
from sandbox.checks.base import MAX_REASON, Check, CheckContext, Contents
from sandbox.checks.registry import CHECKS
from sandbox.checks.support import rows
from sandbox.checks.support.files import open_output
from sandbox.checks.support.tables import Table, read_contents

__all__ = ["prepared", "read_output", "run_checks"]

#: Largest table statistics may be; more rows is no longer a statistic of groups.
MAX_OUTPUT_ROWS = 100_000
#: Row cap of products whose cap the kind does not give (records: the inputs' rows).
DEFAULT_MAX_ROWS = {
    Product.STATISTICS: MAX_OUTPUT_ROWS,
    Product.MODEL: 1_000_000,
    Product.PROGRAM_OUTPUT: 1_000_000,
}


def run_checks(output: Path, context: CheckContext, workdir: Path | None = None) -> list[Check]:
    """Check a quarantined output of any kind.

    Args:
        output: The output file (Parquet, JSON, safetensors or a zip archive).
        context: The job's product, formats, thresholds, inputs and their tags.
        workdir: An empty private folder for extracted members, made and removed by
            the caller (the checks' process may be killed before it cleans up); None
            for a temporary one.

    Returns:
        The checks of :data:`~sandbox.checks.registry.CHECKS` in order; when no file
        could be read, only those that run on an empty output (``ON_EMPTY``).

    Raises:
        InternalError: A stored input dataset cannot be read.
    """
    context = prepared(context)
    if workdir is not None:
        return _checked(read_output(output, context, workdir), context)
    with tempfile.TemporaryDirectory(prefix="sandbox-checks-") as folder:
        return _checked(read_output(output, context, Path(folder)), context)


def prepared(context: CheckContext) -> CheckContext:
    """``context`` as the checks read it: each privacy-unit column tagged a direct identifier."""
    if not context.privacy_units:
        return context
    tags = {dataset: dict(columns) for dataset, columns in context.tags.items()}
    for dataset, column in context.privacy_units.items():
        tags.setdefault(dataset, {})[column] = ColumnTag.DIRECT_IDENTIFIER.value
    return replace(context, tags=tags)


def read_output(output: Path, context: CheckContext, workdir: Path) -> Contents:
    """Read an output once, as every check sees it (see :class:`~sandbox.checks.base.Contents`).

    Args:
        output: The output file.
        context: The job's check context.
        workdir: An empty private folder for extracted members.

    Raises:
        InternalError: A stored input dataset cannot be read.
    """
    inputs = {name: rows.scan_input(glob) for name, glob in context.inputs.items()}
    max_rows = context.max_rows or _default_max_rows(context.product, inputs)
    opened = open_output(output, context.formats, context.kind, context.max_bytes, workdir)
    read = read_contents(opened.members, max_rows)
    return Contents(
        members=tuple(opened.members),
        names=tuple(opened.names),
        tables=tuple(read.tables),
        texts=tuple(read.texts),
        images=tuple(read.images),
        problems=(*opened.problems, *read.problems),
        oversize=(*opened.oversize, *read.oversize),
        content_bytes=opened.content_bytes,
        max_rows=max_rows,
        inputs=inputs,
        matchings=_match(read.tables, context, inputs) if opened.members else {},
    )


def _checked(contents: Contents, context: CheckContext) -> list[Check]:
    """Run the registry; mask names that hold identifiers; bound every reason."""
    checks = [c.run(contents, context) for c in CHECKS if contents.members or c.ON_EMPTY]
    if contents.members or contents.names:
        names = [c for t in contents.tables for c in t.frame.columns]
        names += [t.name for t in contents.tables] + [m.name for m in contents.members]
        names += list(contents.names)
        checks = _without_identifying_names(checks, names)
    return _bounded(checks)


def _bounded(checks: list[Check]) -> list[Check]:
    """Reasons cut to :data:`MAX_REASON` characters (after masking: no identifier is cut)."""
    return [
        c if len(c.reason) <= MAX_REASON else replace(c, reason=c.reason[: MAX_REASON - 1] + "…")
        for c in checks
    ]


def _without_identifying_names(checks: list[Check], names: list[str]) -> list[Check]:
    """Reasons name columns and files; a name that holds an identifier is masked.

    The operator chooses column and file names, so a name can carry a phone
    number or a resident ID; reasons reach the report and the manifest and
    must never carry a value.
    """
    from anonymize.detect.vector import scan_table

    # file names are scanned without their suffix too ("13912345678.csv")
    unique = sorted(set(names) | {Path(n).stem for n in names})
    if not unique:
        return checks
    found = scan_table(pl.DataFrame({"name": unique}, schema={"name": pl.String}))
    hits = sorted(
        {unique[r][a:b] for r, a, b in found.select("row", "start", "end").iter_rows()},
        key=len,
        reverse=True,  # longest first: no partial masking
    )
    if not hits:
        return checks
    masked = []
    for check in checks:
        reason = check.reason
        for name in hits:
            reason = reason.replace(name, "[a name holding an identifier]")
        masked.append(Check(check.name, check.verdict, reason))
    return masked


def _match(
    tables: Sequence[Table], context: CheckContext, inputs: Mapping[str, pl.LazyFrame]
) -> dict[tuple[str, str], rows.Matching]:
    """Match every table's row-level columns with every input's columns."""
    matchings = {}
    for table in tables:
        candidates = rows.comparable(table.frame.schema)
        if context.statistics:
            # Counts, measures and their error bars are noisy numbers, not row values.
            measures = set(context.count_columns)
            candidates = [
                c
                for c in candidates
                if c not in measures
                and not c.endswith(("_ci_low", "_ci_high"))
                and not table.frame.schema[c].is_float()
            ]
        for dataset, lazy in inputs.items():
            matchings[(table.name, dataset)] = rows.match_columns(
                table.frame, candidates, dataset, lazy
            )
    return matchings


def _default_max_rows(product: Product, inputs: Mapping[str, pl.LazyFrame]) -> int:
    if product is not Product.RECORDS:
        return DEFAULT_MAX_ROWS[product]
    return sum(int(lazy.select(pl.len()).collect().item()) for lazy in inputs.values()) or 1
