"""The ``pii_scan`` check: personal information anywhere in an output.

Part of :mod:`sandbox.checks.engine`. Every table (cells, and headers where
:func:`anonymize.scan.scan_frame` reports them with row -1), every text
(JSON strings and keys, plain text, PNG text chunks, safetensors headers and
integer tensors, Parquet metadata) and the archive's file names go through
the vectorized scanner, in batches of :data:`SCAN_BATCH` rows.
Checksum-verified identifiers fail; contextual entities (names, addresses)
warn, and so does an image, which no automatic scan can read. Texts are
scanned as far as the readers' budget went; a text cut short warns and says
how many of its lines were scanned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import polars as pl

from anonymize.detect.scan import scan_frame
from sandbox.checks.rows import Verdict, as_text
from sandbox.checks.tables import MAX_TEXT_CHARS, MAX_TEXT_LINES, Contents

#: Found by dictionaries and context, not checksums: a finding warns, it does not block.
CONTEXTUAL = frozenset({"PERSON", "CN_ADDRESS"})
#: Rows scanned for personal information at a time (bounds the scanner's memory).
SCAN_BATCH = 100_000
_ORDER: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}


def scan_contents(
    contents: Contents,
    names: list[str],
    public_keys: Mapping[str, Sequence[object]],
    pseudonyms: frozenset[str] = frozenset(),
) -> tuple[Verdict, str]:
    """Personal information in every table, text and file name of the output.

    Args:
        contents: The output's tables, texts and images.
        names: The archive's file names.
        public_keys: Group keys and their public domains (see
            :class:`sandbox.checks.engine.CheckContext`).
        pseudonyms: Columns of keyed pseudonyms: a format-preserving
            pseudonym passes a checksum by chance (about 1 in 25,000 for an
            ID), so findings there warn. A column that still holds the real
            identifiers fails ``raw_rows`` and ``identifier_columns``.

    Returns:
        The verdict and its reason (file and column names, counts, entity types).
    """
    reports: list[tuple[Verdict, str]] = []
    for table in contents.tables:
        public = in_domain(table.frame, public_keys)
        report = _scan(table.name, table.frame.drop(public), "columns", pseudonyms)
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
    if names:
        # Separators apart, so that an identifier before ".csv" stands alone as a word.
        words = [re.sub(r"[/._\-]+", " ", name) for name in names]
        report = _scan("the archive", pl.DataFrame({"file names": words}), "file names")
        if report:
            reports.append(report)
    for image in contents.images:
        reports.append(("warn", f"'{image}': an image cannot be scanned automatically; look at it"))
    if not reports:
        return "pass", "no personal identifier found"
    return worst(v for v, _ in reports), "; ".join(r for _, r in reports)


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


def in_domain(frame: pl.DataFrame, public_keys: Mapping[str, Sequence[object]]) -> list[str]:
    """Public-key columns of ``frame`` whose every value lies in the declared domain."""
    inside = []
    for column, domain in public_keys.items():
        if column not in frame.columns or frame.schema[column].is_nested():
            continue
        allowed = pl.Series([str(v) for v in domain], dtype=pl.String)
        values = frame.select(as_text(column, frame.schema[column])).to_series().drop_nulls()
        if values.is_in(allowed.implode()).all():
            inside.append(column)
    return inside


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The most severe of ``verdicts`` (``pass`` when there are none)."""
    found: Verdict = "pass"
    for verdict in verdicts:
        if _ORDER[verdict] > _ORDER[found]:
            found = verdict
    return found
