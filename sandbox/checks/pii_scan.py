"""``pii_scan``: personal information anywhere in an output.

Every table (cells, and headers where :func:`anonymize.scan.scan_frame`
reports them with row -1), every text (JSON strings and keys, plain text, PNG
text chunks, safetensors headers and integer tensors, Parquet metadata) and
the archive's file names go through the vectorized scanner, in batches of
:data:`SCAN_BATCH` rows. Checksum-verified identifiers fail; contextual
entities (names, addresses) warn, and so does an image, which no automatic
scan can read. Texts are scanned as far as the readers' budget went; a text
cut short warns and says how many of its lines were scanned. Columns of a
records output's keyed pseudonyms only warn: a format-preserving pseudonym
passes a checksum by chance (about 1 in 25,000 for an ID); a column that still
holds the real identifiers fails ``raw_rows`` and ``identifier_columns``.

The checks run in a fresh child process per output (:mod:`sandbox.checks.process`),
not on Ray: the trained tagger loads there once per checked output (about a
second) and reads every free-text cell of it within the checks' CPU budget
(``SANDBOX_CHECKS_CPU_S``); an extract's own risk report already carries a
scan of its released table, run on Ray (``jobs.kinds.extract.text``).
"""

from __future__ import annotations

import re

import polars as pl

from anonymize.detect.entities import names
from anonymize.detect.scan import scan_frame
from sandbox.checks.base import Check, CheckContext, Contents, Verdict, worst
from sandbox.checks.support.cells import in_domain
from sandbox.checks.support.tables import MAX_TEXT_CHARS, MAX_TEXT_LINES

NAME = "pii_scan"
ON_EMPTY = False

#: Found by dictionaries and context, not checksums: a finding warns, it does not block.
CONTEXTUAL = frozenset(names(contextual=True))
#: Rows scanned for personal information at a time (bounds the scanner's memory).
SCAN_BATCH = 100_000


def run(contents: Contents, context: CheckContext) -> Check:
    """Personal information in every table, text and file name of the output.

    Returns:
        The verdict and its reason (file and column names, counts, entity types).
    """
    soft = context.pseudonyms if context.records else frozenset()
    reports: list[tuple[Verdict, str]] = []
    for table in contents.tables:
        public = in_domain(table.frame, context.public_keys)
        report = _scan(table.name, table.frame.drop(public), "columns", soft)
        if report:
            reports.append(report)
    for text in contents.texts:
        lines = pl.DataFrame({"text": list(text.lines)}, schema={"text": pl.String})
        report = _scan(text.name, lines, "text")
        if report:
            reports.append(report)
        if text.cut:
            # What was not read may hold anything: never a pass.
            reports.append(
                (
                    "warn",
                    f"'{text.name}': scanned the first {len(text.lines)} of {text.total} lines "
                    f"only (the checks scan {MAX_TEXT_LINES} lines and {MAX_TEXT_CHARS} "
                    "characters of an output); read the rest before deciding",
                )
            )
    if contents.names:
        # Separators apart, so that an identifier before ".csv" stands alone as a word.
        words = [re.sub(r"[/._\-]+", " ", name) for name in contents.names]
        report = _scan("the archive", pl.DataFrame({"file names": words}), "file names")
        if report:
            reports.append(report)
    for image in contents.images:
        reports.append(("warn", f"'{image}': an image cannot be scanned automatically; look at it"))
    if not reports:
        return Check(NAME, "pass", "no personal identifier found")
    return Check(NAME, worst(v for v, _ in reports), "; ".join(r for _, r in reports))


def _scan(
    name: str, frame: pl.DataFrame, where: str, soft: frozenset[str] = frozenset()
) -> tuple[Verdict, str] | None:
    """Scan ``frame`` in batches; header findings (row -1) count once; ``soft`` columns warn."""
    found: set[tuple[str, int, str]] = set()
    if not frame.width:
        return None
    for offset in range(0, max(frame.height, 1), SCAN_BATCH):
        for f in scan_frame(frame.slice(offset, SCAN_BATCH)):
            found.add((f.column, f.row if f.row < 0 else offset + f.row, f.entity))
    if not found:
        return None
    entities = sorted({e for _, _, e in found})
    # A header that holds an identifier is a value: name its position, never its text.
    flagged = {c for c, r, _ in found if r < 0}
    position = {c: i + 1 for i, c in enumerate(frame.columns)}

    def shown(column: str) -> str:
        return f"column #{position[column]}" if column in flagged else column

    columns = sorted({c for c, r, _ in found if r >= 0})
    places = []
    if columns:
        named = ", ".join(shown(c) for c in columns)
        places.append(f"{where} {named}" if where == "columns" else where)
    if flagged:
        numbers = ", ".join(f"#{position[c]}" for c in sorted(flagged, key=position.__getitem__))
        places.append(f"the names of columns {numbers}")
    hard = {e for c, r, e in found if e not in CONTEXTUAL and not (r >= 0 and c in soft)}
    verdict: Verdict = "fail" if hard else "warn"
    reason = f"'{name}': {len(found)} findings ({', '.join(entities)}) in {' and '.join(places)}"
    if soft & set(columns):
        pseudonyms = ", ".join(shown(c) for c in sorted(soft & set(columns)))
        reason += f" (pseudonym columns {pseudonyms} only warn)"
    return verdict, reason
