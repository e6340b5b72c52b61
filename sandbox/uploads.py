"""Uploaded tables: recognize CSV or Parquet, and check a CSV before polars reads it.

Excel on Chinese Windows saves CSV in GBK (its "ANSI" code page 936),
Excel's "CSV UTF-8" adds a byte-order mark, other tools write plain UTF-8.
A CSV is read as UTF-8 (with or without the mark) and, failing that, as
GB18030, the national standard that contains GBK; anything else is refused
with the encodings that are accepted.

The CSV is parsed once by Python's :mod:`csv` reader, streaming, and
written back as canonical UTF-8 CSV into a private temporary file that
polars then scans. Every record must have the header's number of fields,
every quote must close, no line may hold control characters (a binary
file) and none may be longer than :data:`MAX_LINE_BYTES` (a line is held
whole while it is parsed). A refusal names the line and never a value: a polars parse error
quotes the cell it failed on, and that text must reach no log or answer.
Empty lines are skipped (Python's reader and pandas skip them; polars
would make rows of nulls of them).
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import polars as pl

from policies.errors import InvalidRequest

#: What a CSV may be encoded in; named in the refusal.
ACCEPTED_ENCODINGS = "UTF-8 (with or without BOM) or GB18030 / GBK"
#: UTF-8 first: UTF-8 text often decodes as GB18030 too (into the wrong characters),
#: GBK text almost never as UTF-8.
_ENCODINGS = ("utf-8-sig", "gb18030")
#: C0 controls but tab, line feed and carriage return, and DEL: binary, not text.
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLOCK = 1 << 20
#: Longest line read (a line is held whole while it is parsed).
MAX_LINE_BYTES = 16 << 20
#: Fields held per step (a batch of records is checked and written at once): bounds
#: memory whatever the width, while the per-record work stays in C.
_BATCH_FIELDS = 100_000
_PARQUET_MAGIC = b"PAR1"


@contextlib.contextmanager
def open_upload(
    path: Path,
    *,
    max_columns: int | None = None,
    max_rows: int | None = None,
    workdir: Path | None = None,
) -> Iterator[pl.LazyFrame]:
    """A lazy view of an uploaded CSV or Parquet file, chosen by content, not name.

    A CSV is checked and rewritten as UTF-8 into a private file in ``workdir``
    (the system's temporary folder when None), removed when the block ends.

    Args:
        path: The uploaded file; never modified.
        max_columns: Most columns accepted (None: no limit).
        max_rows: Keep only the first rows of a CSV (enough for a proposal); None: all.
        workdir: Where the rewritten CSV goes.

    Yields:
        The table, lazily.

    Raises:
        InvalidRequest: Neither format, another encoding, a malformed record (its
            line is named), or too many columns.
    """
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == _PARQUET_MAGIC:
        try:
            frame = pl.scan_parquet(path)
            width = len(frame.collect_schema())
        except (pl.exceptions.PolarsError, OSError):
            raise InvalidRequest(
                "the file could not be read as Parquet; export it again, or upload CSV"
            ) from None
        _check_width(width, max_columns)
        yield frame
        return
    fd, name = tempfile.mkstemp(suffix=".csv", dir=workdir)  # mode 0600
    os.close(fd)
    canonical = Path(name)
    try:
        _rewrite_csv(path, canonical, max_columns, max_rows)
        try:
            # The whole file decides each type: it was all parsed already, and a value
            # past a sampled head that misfit its type would fail later, quoting it.
            frame = pl.scan_csv(canonical, infer_schema_length=None, try_parse_dates=False)
            frame.collect_schema()
        except pl.exceptions.PolarsError:
            raise InvalidRequest(
                "the CSV could not be read; save it again from Excel as 'CSV UTF-8'"
            ) from None
        yield frame
    finally:
        canonical.unlink(missing_ok=True)


def _check_width(width: int, max_columns: int | None) -> None:
    if max_columns is not None and width > max_columns:
        raise InvalidRequest(
            f"the table has {width} columns, more than the {max_columns} accepted "
            "(SANDBOX_MAX_COLUMNS): split it into narrower tables"
        )


def _rewrite_csv(source: Path, dest: Path, max_columns: int | None, max_rows: int | None) -> None:
    """Check ``source`` and write it to ``dest`` as canonical UTF-8 CSV."""
    _check_text(source)
    for encoding in _ENCODINGS:
        try:
            with (
                source.open(encoding=encoding, newline="") as text,
                dest.open("w", encoding="utf-8", newline="") as out,
            ):
                try:
                    _copy_records(text, out, max_columns, max_rows)
                except _Malformed:
                    text.seek(0)
                    _locate_malformed(text)  # raises, naming the line
                    raise InvalidRequest("the file is not valid CSV") from None
            return
        except UnicodeDecodeError:
            continue  # the error quotes the bytes it met: it is dropped, never shown
    raise InvalidRequest(
        f"the file is not CSV in {ACCEPTED_ENCODINGS}, nor Parquet: in Excel, "
        "save it as 'CSV UTF-8 (comma delimited)'"
    )


def _check_text(source: Path) -> None:
    """Refuse control bytes (a binary file) and overlong lines, naming the first such line.

    Both accepted encodings keep bytes below 0x30 for ASCII alone (no multi-byte
    sequence holds one), so the bytes can be searched before decoding. A line is
    read whole before the CSV reader splits it: its length is bounded here.
    """
    lines = 0
    running = 0  # bytes since the last line feed
    with source.open("rb") as handle:
        while block := handle.read(_BLOCK):
            if found := _BINARY_BYTES.search(block):
                line = lines + block.count(b"\n", 0, found.start()) + 1
                raise InvalidRequest(
                    f"line {line} holds control characters: the file is binary or in another "
                    f"encoding (e.g. UTF-16); save it as CSV in {ACCEPTED_ENCODINGS}"
                )
            first = block.find(b"\n")
            if first >= 0 and running + first <= MAX_LINE_BYTES:
                running = len(block) - block.rfind(b"\n") - 1
            else:
                running += len(block) if first < 0 else first
            if running > MAX_LINE_BYTES:
                raise InvalidRequest(
                    f"line {lines + 1} is longer than {MAX_LINE_BYTES} bytes: is it CSV, "
                    "with a line feed after each row?"
                )
            lines += block.count(b"\n")


class _Malformed(Exception):
    """The fast pass met a malformed record; the slow pass finds its line."""


def _copy_records(
    text: IO[str], out: IO[str], max_columns: int | None, max_rows: int | None
) -> None:
    """Copy records batch by batch (the per-record work stays in C)."""
    reader = csv.reader(text, strict=True)
    writer = csv.writer(out, lineterminator="\n")
    try:
        header = next(reader, None)
        if not header:
            raise InvalidRequest("the first line is empty: it must name the columns")
        _check_width(len(header), max_columns)
        writer.writerow(header)
        batch_rows = max(1, _BATCH_FIELDS // len(header))
        written = 0
        while max_rows is None or written < max_rows:
            size = batch_rows if max_rows is None else min(batch_rows, max_rows - written)
            batch = list(itertools.islice(reader, size))
            if not batch:
                return
            widths = set(map(len, batch))
            if widths != {len(header)}:
                if widths - {len(header), 0}:
                    raise _Malformed
                batch = [record for record in batch if record]  # drop empty lines
            writer.writerows(batch)
            written += len(batch)
    except csv.Error:
        raise _Malformed from None


def _locate_malformed(text: IO[str]) -> None:
    """Raise for the first malformed record of ``text``, naming the line it starts on."""
    reader = csv.reader(text, strict=True)
    start = 1
    try:
        width = len(next(reader))
        while True:
            start = reader.line_num + 1
            record = next(reader, None)
            if record is None:
                return
            if record and len(record) != width:
                raise InvalidRequest(
                    f"line {start} has {len(record)} fields, the header {width}: every row "
                    "needs one field per column (quote a field that holds a comma)"
                )
    except csv.Error:
        raise InvalidRequest(
            f"line {start} is not valid CSV: a quote that does not close, text after a "
            f"closing quote, or a field longer than {csv.field_size_limit()} characters"
        ) from None
