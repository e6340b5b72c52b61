"""Uploaded tables: recognize CSV or Parquet, and check a CSV before polars reads it.

Excel on Chinese Windows saves CSV in GBK (its "ANSI" code page 936),
Excel's "CSV UTF-8" adds a byte-order mark, other tools write plain UTF-8.
A first pass over the bytes decides: UTF-8 (with or without the mark) when
it all decodes so; GB18030, the national standard that contains GBK, when
it does not and the file shows no UTF-8 text; refused when it mixes the
two (GB18030 decodes most UTF-8 Chinese without error, into the wrong
characters: falling back would store mojibake). Other encodings are refused
with the ones accepted.

The CSV is then parsed once by Python's :mod:`csv` reader, streaming, and
each record's own text is copied as UTF-8 into a private temporary file that
polars then scans. Every record must have the header's number of fields
(checked as it is read), every quote must close, no line may hold control
characters (a binary file) and none may be longer than
:data:`MAX_LINE_BYTES`, no record (which may span lines inside quotes)
longer than :data:`MAX_RECORD_CHARS`: memory stays bounded whatever the
file. A refusal names the line and never a value: a polars parse error
quotes the cell it failed on, and that text must reach no log or answer.
Empty lines are skipped (Python's reader and pandas skip them; polars
would make rows of nulls of them). An empty field is null, a quoted empty
field (``""``) an empty string, as polars reads them.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
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
#: C0 controls but tab, line feed and carriage return, and DEL: binary, not text.
_CONTROLS = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BREAK = re.compile(rb"[\r\n]")
#: Bytes that start a UTF-8 multi-byte sequence.
_LEAD_BYTES = bytes(range(0xC0, 0x100))
#: An undecodable byte, as the ``surrogateescape`` handler stands it in.
_ESCAPED = re.compile("[\udc80-\udcff]")
_BLOCK = 1 << 20
#: Longest line read (a line is held whole while it is parsed).
MAX_LINE_BYTES = 16 << 20
#: Longest record, in characters (quoted fields may hold line breaks).
MAX_RECORD_CHARS = 16 << 20
#: Commas a record may hold inside quoted text, beyond one per column: bounds the
#: fields parsed before the record's width can be checked.
QUOTED_COMMAS = 100_000
#: Characters written per step.
_BATCH_CHARS = 1 << 20
_PARQUET_MAGIC = b"PAR1"
#: A record polars reads as Python's reader does: every field quoted whole or free of quotes.
_FIELD = r'(?:"[^"]*+(?:""[^"]*+)*+"|[^",\r\n]*+)'
_PLAIN_RECORD = re.compile(rf"{_FIELD}(?:,{_FIELD})*+(?:\r\n|\n|\r)?")
_TOKEN = re.compile(r'"[^"]*+(?:""[^"]*+)*+"|[^,\r\n]*+')


@contextlib.contextmanager
def open_upload(
    path: Path, *, max_columns: int | None = None, workdir: Path | None = None
) -> Iterator[pl.LazyFrame]:
    """A lazy view of an uploaded CSV or Parquet file, chosen by content, not name.

    A CSV is checked and rewritten as UTF-8 into a private file in ``workdir``
    (the system's temporary folder when None), removed when the block ends.

    Args:
        path: The uploaded file; never modified.
        max_columns: Most columns accepted (None: no limit).
        workdir: Where the rewritten CSV goes.

    Yields:
        The table, lazily; column types come from the whole file.

    Raises:
        InvalidRequest: Neither format, another or mixed encodings, a malformed or
            overlong record (its line is named), or too many columns.
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
        _rewrite_csv(path, canonical, max_columns)
        try:
            # The whole file decides each type: it was all parsed already, and a value
            # past a sampled head that misfit its type would fail later, quoting it.
            schema = pl.scan_csv(
                canonical, infer_schema_length=None, try_parse_dates=False
            ).collect_schema()
            # given its schema, each later query reads the file without inferring it again
            frame = pl.scan_csv(canonical, schema=schema, try_parse_dates=False)
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


def _rewrite_csv(source: Path, dest: Path, max_columns: int | None) -> None:
    """Check ``source`` and write it to ``dest`` as UTF-8 CSV."""
    encoding = _check_bytes(source)
    try:
        with (
            source.open(encoding=encoding, newline="") as text,
            dest.open("w", encoding="utf-8", newline="") as out,
        ):
            _copy_records(text, out, max_columns)
    except UnicodeDecodeError:
        # the error quotes the bytes it met: it is dropped, never shown
        raise InvalidRequest(
            f"the file is not CSV in {ACCEPTED_ENCODINGS}, nor Parquet: in Excel, "
            "save it as 'CSV UTF-8 (comma delimited)'"
        ) from None


def _line_at(source: Path, offset: int) -> int:
    """The number of the line holding byte ``offset`` (LF, CR and CRLF break lines,
    as the CSV reader counts them); counted only for a refusal."""
    breaks = 0
    after_cr = False  # the previous block ended with a carriage return
    with source.open("rb") as handle:
        while offset > 0 and (block := handle.read(min(_BLOCK, offset))):
            offset -= len(block)
            crlf = block.count(b"\r\n") + (after_cr and block.startswith(b"\n"))
            breaks += block.count(b"\n") + block.count(b"\r") - crlf
            after_cr = block.endswith(b"\r")
    return breaks + 1


class _Utf8Evidence:
    """How much of a file reads as UTF-8: valid multi-byte sequences and invalid bytes.

    Strict decoding while the file is valid; counting, once it is not.
    """

    def __init__(self) -> None:
        self._strict = codecs.getincrementaldecoder("utf-8")()
        self._counting: codecs.IncrementalDecoder | None = None
        self.valid = 0
        self.invalid = 0
        self.first_invalid = -1  # the byte offset of the first invalid byte

    def feed(self, block: bytes, offset: int, final: bool = False) -> None:
        """Count ``block``, which starts at byte ``offset`` of the file."""
        if self._counting is None:
            state = self._strict.getstate()
            if block.isascii() and not state[0] and not final:
                return
            try:
                self._strict.decode(block, final)
            except UnicodeDecodeError:
                self._counting = codecs.getincrementaldecoder("utf-8")("surrogateescape")
                self._counting.setstate(state)
            else:
                self.valid += len(block) - len(block.translate(None, _LEAD_BYTES))
                return
        pending = len(self._counting.getstate()[0])  # bytes of the previous block
        text = self._counting.decode(block, final)
        clean = text.encode("utf-8", "ignore")  # without the undecodable bytes
        self.valid += len(clean) - len(clean.translate(None, _LEAD_BYTES))
        invalid = len(text.encode("utf-8", "surrogateescape")) - len(clean)
        if invalid and self.first_invalid < 0:
            found = _ESCAPED.search(text)
            before = text[: found.start() if found else 0]
            self.first_invalid = offset - pending + len(before.encode("utf-8", "surrogateescape"))
        self.invalid += invalid


def _check_bytes(source: Path) -> str:
    """Refuse control bytes, overlong lines and mixed encodings; return the encoding.

    Both accepted encodings keep bytes below 0x30 for ASCII alone (no multi-byte
    sequence holds one), so the bytes can be searched before decoding. A line is
    read whole before the CSV reader splits it: its length is bounded here.

    GBK text decodes as UTF-8 only by accident, a character now and then (with
    at least two invalid bytes for each accidental sequence); a UTF-8 file with a
    stray byte in another encoding has far more valid sequences than invalid bytes.
    Refusing on any valid sequence before the failure would refuse about one GBK
    file in six (their first characters often happen to be valid UTF-8).
    """
    offset = 0  # of the block
    line_start = 0  # offset of the line being read
    utf8 = _Utf8Evidence()
    with source.open("rb") as handle:
        while block := handle.read(_BLOCK):
            if len(block.translate(None, _CONTROLS)) != len(block):
                found = _BINARY_BYTES.search(block)
                line = _line_at(source, offset + (found.start() if found else 0))
                raise InvalidRequest(
                    f"line {line} holds control characters: the file is binary or in another "
                    f"encoding (e.g. UTF-16); save it as CSV in {ACCEPTED_ENCODINGS}"
                )
            last = max(block.rfind(b"\n"), block.rfind(b"\r"))
            first = _BREAK.search(block) if last >= 0 else None
            end = offset + (len(block) if first is None else first.start())
            if end - line_start > MAX_LINE_BYTES:
                raise InvalidRequest(
                    f"line {_line_at(source, line_start)} is longer than {MAX_LINE_BYTES} "
                    "bytes: is it CSV, with a line break after each row?"
                )
            if last >= 0:
                line_start = offset + last + 1  # lines within a block are shorter than it
            utf8.feed(block, offset)
            offset += len(block)
    utf8.feed(b"", offset, final=True)
    if not utf8.invalid:
        return "utf-8-sig"
    if utf8.valid >= 2 * utf8.invalid:
        raise InvalidRequest(
            f"the file mixes encodings: it is UTF-8 but line "
            f"{_line_at(source, utf8.first_invalid)} is "
            f"not (pasted from a file in another encoding?); save it again as one CSV in "
            f"{ACCEPTED_ENCODINGS}"
        )
    return "gb18030"


class _Feed:
    """The lines of a text, fed to the CSV reader; :attr:`record` holds the current record's.

    It bounds a record's characters and commas before the reader parses them, so a
    record that could not fit the header's width costs no memory past those bounds.
    """

    def __init__(self, text: IO[str], max_commas: int) -> None:
        self._text = text
        self.max_commas = max_commas
        #: The current record's lines; whoever takes the record clears it.
        self.record: list[str] = []

    def __iter__(self) -> Iterator[str]:
        record = self.record
        chars = commas = 0
        for number, line in enumerate(self._text, 1):
            record.append(line)
            if len(record) == 1:
                chars, commas = len(line), line.count(",")
            else:
                chars += len(line)
                commas += line.count(",")
            if chars > MAX_RECORD_CHARS:
                raise InvalidRequest(
                    f"the record starting on line {number - len(record) + 1} is longer "
                    f"than {MAX_RECORD_CHARS} characters: does a quote not close?"
                )
            if commas > self.max_commas:
                raise InvalidRequest(
                    f"the record starting on line {number - len(record) + 1} holds more "
                    f"than {self.max_commas} commas, far more fields than the header: "
                    "every row needs one field per column"
                )
            yield line


def _canonical(text: str) -> str:
    """A record's text (its lines) as polars reads it the way Python's reader did."""
    if '"' in text and not _PLAIN_RECORD.fullmatch(text):
        return _quote_whole(text)
    if text[-1] == "\n":
        return text
    # polars splits rows on line feeds only; the last line may have no break
    return text[:-1] + "\n" if text[-1] == "\r" else text + "\n"


def _quote_whole(text: str) -> str:
    """Quote the fields of a record that hold a quote without being quoted (``5"``).

    Python's reader keeps such a quote as text; polars would start a quoted field.
    """
    body = text.rstrip("\r\n")  # the record's own line break: a field's would be quoted
    fields: list[str] = []
    pos = 0
    while True:
        match = _TOKEN.match(body, pos)
        assert match is not None  # the empty token always matches
        token = match.group()
        if token and token[0] != '"' and '"' in token:
            token = '"' + token.replace('"', '""') + '"'
        fields.append(token)
        pos = match.end() + 1  # past the comma
        if pos > len(body):
            return ",".join(fields) + "\n"


def _copy_records(text: IO[str], out: IO[str], max_columns: int | None) -> None:
    """Check each record as it is read and copy its text, in batches of bounded size."""
    # process-wide; a record's own bound (in _Feed) comes first
    csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_CHARS + 1))
    header_commas = (max_columns if max_columns is not None else QUOTED_COMMAS) + QUOTED_COMMAS
    feed = _Feed(text, header_commas)
    lines = feed.record
    reader = csv.reader(feed, strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise InvalidRequest("the first line is empty: it must name the columns")
        width = len(header)
        _check_width(width, max_columns)
        feed.max_commas = width - 1 + QUOTED_COMMAS
        batch = [_canonical("".join(lines))]
        lines.clear()
        size = 0
        for record in reader:
            if len(record) != width:
                if record:
                    raise InvalidRequest(
                        f"line {reader.line_num - len(lines) + 1} has {len(record)} fields, "
                        f"the header {width}: every row needs one field per column (quote "
                        "a field that holds a comma)"
                    )
                lines.clear()  # an empty line: skipped
                continue
            line = lines[0] if len(lines) == 1 else "".join(lines)
            lines.clear()
            if '"' in line or line[-1] != "\n":
                line = _canonical(line)
            batch.append(line)
            size += len(line)
            if size >= _BATCH_CHARS:
                out.write("".join(batch))
                batch.clear()
                size = 0
        out.write("".join(batch))
    except csv.Error:
        # its message may quote the text it met: dropped, never shown
        raise InvalidRequest(
            f"line {reader.line_num - len(lines) + 1} is not valid CSV: a quote that does "
            "not close, or text after a closing quote"
        ) from None
