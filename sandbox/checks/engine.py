"""Automatic disclosure checks run on every output before a steward sees it.

Each check yields a verdict (``pass``, ``warn`` or ``fail``) and a reason a
reviewer can read; a ``fail`` blocks approval unless the steward overrides it
with a written reason. Reasons carry counts, file and column names, never
values. The checks, in the order :func:`run_checks` returns them:

1. ``file_type`` — the kind's allowlist, every file identified by content
   (:mod:`sandbox.checks.files`: Parquet magic, PNG chunks, strict UTF-8,
   JSON parses; zip members without path traversal, nesting or bombs).
2. ``size`` — the byte and row caps, and what the readers' budget refused
   (:mod:`sandbox.checks.tables`: cells, JSON values, nesting; nothing is read
   past it, so a small file that unpacks to millions of rows costs the cap).
3. ``pii_scan`` — :func:`anonymize.scan.scan_frame` over every table and text
   (cells and headers); checksum-verified identifiers fail, contextual
   entities (names, addresses) and images warn.
4. ``raw_rows`` — output rows that copy input records, columns matched by
   content even when renamed or re-ordered (:mod:`sandbox.checks.rows`).
5. ``small_cells`` — counts below the minimum cell size, and extract
   equivalence classes smaller than k (:mod:`sandbox.checks.cells`).
6. ``identifier_columns`` — nearly unique columns: keys that link back to people.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from policies.catalog import ColumnTag
from policies.errors import InternalError
from sandbox.checks import cells, rows
from sandbox.checks.files import open_output
from sandbox.checks.pii import in_domain, scan_contents, worst
from sandbox.checks.rows import Verdict
from sandbox.checks.tables import Table, read_contents

__all__ = ["Check", "CheckContext", "Verdict", "blocking", "run_checks"]

KINDS = frozenset({"aggregate", "extract", "train", "custom"})
#: Largest table an aggregate output may be; more rows is no longer an aggregate.
MAX_OUTPUT_ROWS = 100_000
#: Row cap of kinds whose cap the caller does not give (extract: the inputs' rows).
DEFAULT_MAX_ROWS = {"aggregate": MAX_OUTPUT_ROWS, "train": 1_000_000, "custom": 1_000_000}
DEFAULT_MAX_BYTES = 1 << 30
#: Longest reason of a check (a reason lists names; thousands of them help no reviewer).
MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class Check:
    """One automatic check's verdict."""

    name: str
    verdict: Verdict
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the checks need to know about a job besides its output.

    Attributes:
        kind: ``aggregate``, ``extract``, ``train`` or ``custom``.
        min_cell: The smallest count a released cell may show.
        count_columns: Aggregate outputs that are counts (histograms included).
        public_keys: Group keys with their declared public domain (e.g. the 13
            cities). A column is not scanned for identifiers when every value
            it holds is in its domain; a value outside the domain (an ID
            smuggled under a key's name) gets it scanned like any other.
        inputs: Dataset -> Parquet glob of its stored parts.
        tags: Dataset -> {column: catalog tag}.
        k: The k an extract enforced; classes smaller than this fail
            (default: ``min_cell``).
        pseudonyms: Columns an extract pseudonymized (the grant allows linkage).
        privacy_units: Dataset -> its privacy-unit column (a household or
            person key). Checked as a direct identifier whatever its tag:
            its values single out the unit.
        max_rows: Row cap; None for the kind's default (aggregate 100,000;
            extract the inputs' rows; train and custom 1,000,000).
        max_bytes: Cap on the output's stored and uncompressed bytes.

    Raises:
        InternalError: An unknown kind or a non-positive threshold (a fault of the caller).
    """

    kind: str
    min_cell: int
    count_columns: tuple[str, ...] = ()
    public_keys: Mapping[str, Sequence[object]] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    k: int | None = None
    pseudonyms: frozenset[str] = frozenset()
    privacy_units: Mapping[str, str] = field(default_factory=dict)
    max_rows: int | None = None
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InternalError(f"no checks for job kind '{self.kind}'")
        if self.min_cell < 1 or (self.k is not None and self.k < 1) or self.max_bytes < 1:
            raise InternalError("min_cell, k and max_bytes of a check context must be positive")


def run_checks(output: Path, context: CheckContext, workdir: Path | None = None) -> list[Check]:
    """Check a quarantined output of any kind.

    Args:
        output: The output file (Parquet, JSON, safetensors or a zip archive).
        context: The job's kind, thresholds, inputs and their tags.
        workdir: An empty private folder for extracted members, made and removed by
            the caller (the checks' process may be killed before it cleans up); None
            for a temporary one.

    Returns:
        ``file_type`` and ``size``, then, when any file could be read,
        ``pii_scan``, ``raw_rows``, ``small_cells`` and ``identifier_columns``.

    Raises:
        InternalError: A stored input dataset cannot be read.
    """
    context = _with_units_as_identifiers(context)
    inputs = {name: rows.scan_input(glob) for name, glob in context.inputs.items()}
    max_rows = context.max_rows or _default_max_rows(context.kind, inputs)
    if workdir is not None:
        return _bounded(_run(output, context, inputs, max_rows, workdir))
    with tempfile.TemporaryDirectory(prefix="sandbox-checks-") as folder:
        return _bounded(_run(output, context, inputs, max_rows, Path(folder)))


def _bounded(checks: list[Check]) -> list[Check]:
    """Reasons cut to :data:`MAX_REASON` characters (after masking: no identifier is cut)."""
    return [
        c if len(c.reason) <= MAX_REASON else replace(c, reason=c.reason[: MAX_REASON - 1] + "…")
        for c in checks
    ]


def _run(
    output: Path,
    context: CheckContext,
    inputs: Mapping[str, pl.LazyFrame],
    max_rows: int,
    folder: Path,
) -> list[Check]:
    opened = open_output(output, context.kind, context.max_bytes, folder)
    contents = read_contents(opened.members, max_rows)
    problems = opened.problems + contents.problems
    if problems:
        file_type = Check("file_type", "fail", "; ".join(problems))
    elif not opened.members:
        why = "it exceeds the size cap" if opened.oversize else "it holds no file"
        file_type = Check("file_type", "fail", f"the output was not checked: {why}")
    else:
        formats = sorted({m.fmt for m in opened.members})
        file_type = Check(
            "file_type",
            "pass",
            f"{len(opened.members)} files of allowed types ({', '.join(formats)})",
        )
    table_rows = sum(t.rows for t in contents.tables)
    oversize = list(opened.oversize) + contents.oversize
    if table_rows > max_rows:
        oversize.append(f"{table_rows} rows exceed the cap of {max_rows} (checked the first)")
    size = (
        Check("size", "fail", "; ".join(oversize))
        if oversize
        else Check(
            "size",
            "pass",
            f"{opened.content_bytes} bytes, {table_rows} rows in {len(contents.tables)} tables",
        )
    )
    if not opened.members:
        return [file_type, size]
    matchings = _match(contents.tables, context, inputs)
    soft = context.pseudonyms if context.kind == "extract" else frozenset()
    checks = [
        file_type,
        size,
        Check("pii_scan", *scan_contents(contents, opened.names, context.public_keys, soft)),
        raw_rows(contents.tables, context, inputs, matchings),
        small_cells(contents.tables, context),
        identifier_columns(contents.tables, context, matchings),
    ]
    names = [c for t in contents.tables for c in t.frame.columns]
    names += [t.name for t in contents.tables] + [m.name for m in opened.members]
    names += list(opened.names)
    return _without_identifying_names(checks, names)


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


def blocking(checks: list[dict[str, Any]]) -> list[str]:
    """Names of the checks that block approval."""
    return [c["name"] for c in checks if c["verdict"] == "fail"]


def raw_rows(
    tables: list[Table],
    context: CheckContext,
    inputs: Mapping[str, pl.LazyFrame],
    matchings: Mapping[tuple[str, str], rows.Matching],
) -> Check:
    """Output rows that single out input records (see :mod:`sandbox.checks.rows`)."""
    if not inputs:
        return Check("raw_rows", "pass", "no input dataset to compare with")
    if not tables:
        return Check("raw_rows", "pass", "no tabular output")
    verdicts: list[tuple[Verdict, str]] = []
    for table in tables:
        for dataset, lazy in inputs.items():
            matching = matchings[(table.name, dataset)]
            tags = context.tags.get(dataset, {})
            if context.kind == "extract":
                # An extract releases sensitive and plain values as they are, by design.
                kept = {o: i for o, i in matching.pairs.items() if tags.get(i) in rows.IDENTIFYING}
                matching = rows.Matching(dataset, kept, matching.best)
            # An extract's promise is k (enforced on its quasi-identifiers), not the
            # aggregate small-cell threshold: a class of k people is what it may show.
            floor = context.k if context.kind == "extract" and context.k else context.min_cell
            singled = rows.singled_out(table.frame, matching.pairs, lazy, floor)
            judged = rows.judge(
                context.kind, table.name, table.frame.height, matching, tags, singled
            )
            verdicts.append((judged.verdict, judged.reason))
    verdict = worst(v for v, _ in verdicts)
    shown = [r for v, r in verdicts if v == verdict]
    return Check("raw_rows", verdict, "; ".join(shown))


def small_cells(tables: list[Table], context: CheckContext) -> Check:
    """Counts below ``min_cell``; for an extract, equivalence classes below k."""
    if not tables:
        return Check("small_cells", "pass", "no tabular output")
    if context.kind == "extract":
        return _small_classes(tables, context)
    reasons: list[str] = []
    checked: list[str] = []
    for table in tables:
        if context.kind == "aggregate":
            columns = [c for c in context.count_columns if c in table.frame.columns]
        else:
            columns = cells.count_like(table.frame)
        checked += columns
        small = cells.small_counts(
            table.frame, columns, context.min_cell, zero=context.kind == "aggregate"
        )
        if small:
            reasons.append(
                f"'{table.name}': {small} cells of {', '.join(columns)} show a count below "
                f"{context.min_cell}"
            )
    if reasons:
        return Check("small_cells", "fail", "; ".join(reasons))
    if not checked:
        return Check("small_cells", "pass", "no count column found")
    return Check(
        "small_cells", "pass", f"every count ({', '.join(checked)}) is at least {context.min_cell}"
    )


def _small_classes(tables: list[Table], context: CheckContext) -> Check:
    k = context.k or context.min_cell
    quasi = cells.quasi_identifiers(context.tags)
    reasons: list[str] = []
    seen: list[str] = []
    for table in tables:
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
        return Check("small_cells", "fail", "; ".join(reasons))
    if not seen:
        return Check("small_cells", "pass", "no quasi-identifier column released")
    return Check(
        "small_cells",
        "pass",
        f"every class over {', '.join(sorted(set(seen)))} has k={k} rows or more",
    )


def identifier_columns(
    tables: list[Table],
    context: CheckContext,
    matchings: Mapping[tuple[str, str], rows.Matching],
) -> Check:
    """Nearly unique string or integer columns: keys that could link back to people."""
    direct = cells.direct_identifiers(context.tags)
    skip = frozenset(context.count_columns)
    verdicts: list[tuple[Verdict, str]] = []
    for table in tables:
        public = frozenset(in_domain(table.frame, context.public_keys))
        best: dict[str, tuple[str, tuple[str, float]]] = {}
        for (name, dataset), matching in matchings.items():
            if name != table.name:
                continue
            for column, (source, share) in matching.best.items():
                if share > best.get(column, ("", ("", 0.0)))[1][1]:
                    best[column] = (dataset, (source, share))
        for column in cells.nearly_unique(table.frame, skip | public):
            verdict, reason = cells.judge_identifier(
                column, context.kind, best, direct, context.pseudonyms
            )
            if verdict != "pass":
                verdicts.append((verdict, f"'{table.name}': {reason}"))
    if not verdicts:
        return Check("identifier_columns", "pass", "no column is nearly unique per row")
    return Check(
        "identifier_columns", worst(v for v, _ in verdicts), "; ".join(r for _, r in verdicts)
    )


def _match(
    tables: list[Table], context: CheckContext, inputs: Mapping[str, pl.LazyFrame]
) -> dict[tuple[str, str], rows.Matching]:
    """Match every table's row-level columns with every input's columns."""
    matchings = {}
    for table in tables:
        candidates = rows.comparable(table.frame.schema)
        if context.kind == "aggregate":
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


def _with_units_as_identifiers(context: CheckContext) -> CheckContext:
    if not context.privacy_units:
        return context
    tags = {dataset: dict(columns) for dataset, columns in context.tags.items()}
    for dataset, column in context.privacy_units.items():
        tags.setdefault(dataset, {})[column] = ColumnTag.DIRECT_IDENTIFIER.value
    return replace(context, tags=tags)


def _default_max_rows(kind: str, inputs: Mapping[str, pl.LazyFrame]) -> int:
    if kind != "extract":
        return DEFAULT_MAX_ROWS[kind]
    return sum(int(lazy.select(pl.len()).collect().item()) for lazy in inputs.values()) or 1
