"""Safe previews of a quarantined output for its reviewer.

A reviewer sees the first rows of a Parquet table, the first rows of each
tabular member of a custom job's zip, its PNG images (served separately, as
``image/png``) and the first lines of its text files. Everything is returned
as plain strings for the autoescaping templates: nothing an output holds is
ever rendered as HTML. Zip members are read with size caps, and a table is
read no further than the rows shown (its row count comes from the Parquet
footer), so a crafted archive or a few hundred kilobytes of Parquet that
unpack to hundreds of millions of rows cannot exhaust the service's memory.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal

import polars as pl

from policies.errors import NotFound
from sandbox.checks.support.files import MAX_MEMBERS
from sandbox.web.console.formats import num
from sandbox.web.console.i18n import gettext

#: Rows shown of a table.
PREVIEW_ROWS = 20
#: Characters shown of one cell.
MAX_CELL = 80
#: Largest member read for a preview (uncompressed bytes).
MAX_MEMBER = 32 * 1024 * 1024
#: Most rows of an aggregate's table read whole (for its plots); the size check's cap.
MAX_TABLE_ROWS = 100_000
#: Most uncompressed bytes of an aggregate's table read whole (its footer's sizes).
MAX_TABLE_BYTES = 64 << 20
#: Largest trained model's JSON parsed to be pretty-printed; a larger one is shown as its
#: first characters. Only the first :data:`MAX_TEXT` characters are ever indented: indented
#: whole, a nested document takes hundreds of times its bytes.
MAX_JSON_PRETTY = 256 << 10
#: Uncompressed bytes of a Parquet table's first row group decoded for a preview (the
#: footer's sizes): one row can hold a string of megabytes that compresses to nothing.
MAX_PREVIEW_BYTES = 16 << 20
#: Columns of a table shown.
MAX_COLUMNS = 200
#: Bytes of a CSV member parsed for its first rows (a wide header is cut, not parsed whole).
MAX_CSV_PREFIX = 1 << 20
#: Characters shown of a text member.
MAX_TEXT = 4000
#: Members of one archive whose tables and texts are shown; the others (up to the checks'
#: cap, :data:`sandbox.checks.support.files.MAX_MEMBERS`) are listed, and their images shown.
MAX_PREVIEWED = 200
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TABLES = {".parquet", ".csv"}
_TEXTS = {".py", ".txt", ".md", ".json", ".log", ".tsv", ".html", ".htm", ".xml", ".yaml", ".yml"}


@dataclass(frozen=True, slots=True)
class Table:
    """The first rows of a table, as display strings."""

    columns: list[str]
    rows: list[list[str]]
    total_rows: int


@dataclass(frozen=True, slots=True)
class Member:
    """One file of a custom job's archive."""

    index: int
    name: str
    size: int
    kind: Literal["table", "image", "text", "other"]
    table: Table | None = None
    text: str | None = None
    note: str = ""


def _cell(value: object) -> str:
    if value is None:
        return "∅"
    if isinstance(value, float):
        text = num(value)  # grouped, never 3.66644e+06
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def frame_table(frame: pl.DataFrame, total_rows: int | None = None) -> Table:
    """The first :data:`PREVIEW_ROWS` rows of ``frame`` as strings."""
    head = frame.head(PREVIEW_ROWS)
    return Table(
        columns=[str(c) for c in head.columns],
        rows=[[_cell(v) for v in row] for row in head.iter_rows()],
        total_rows=frame.height if total_rows is None else total_rows,
    )


class TooLarge(ValueError):
    """A table whose first rows would take too much memory to decode; the message says so."""


def parquet_table(path: Path | IO[bytes]) -> Table:
    """The first rows of a Parquet file (its first :data:`MAX_COLUMNS` columns) and its row count.

    Only the first row group is decoded, and only when the footer says it
    unpacks to at most :data:`MAX_PREVIEW_BYTES`; the row count is the footer's.

    Raises:
        TooLarge: The first row group is larger than that.
        OSError: The file is not a readable Parquet table.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as parquet:
            meta = parquet.metadata
            names = parquet.schema_arrow.names[:MAX_COLUMNS]
            if meta.num_row_groups == 0:
                arrow = parquet.schema_arrow.empty_table().select(names)
            else:
                group = meta.row_group(0)
                # every leaf column counts, the ones not shown too: no guess at their names
                chunks = (group.column(i) for i in range(group.num_columns))
                size = sum(chunk.total_uncompressed_size for chunk in chunks)
                if size > MAX_PREVIEW_BYTES:
                    raise TooLarge(
                        gettext(
                            "too large to preview (its first rows unpack to over %(mib)s MiB): "
                            "download the output to read it"
                        )
                        % {"mib": MAX_PREVIEW_BYTES >> 20}
                    )
                arrow = parquet.read_row_group(0, columns=names).slice(0, PREVIEW_ROWS)
            frame = pl.from_arrow(arrow)
            total = meta.num_rows
    except (pa.ArrowException, pl.exceptions.PolarsError, KeyError, IndexError) as err:
        raise OSError(gettext("not a readable Parquet table")) from err
    assert isinstance(frame, pl.DataFrame)
    return frame_table(frame, total)


def csv_table(data: bytes) -> Table:
    """The first rows of a CSV file, its first :data:`MAX_COLUMNS` columns, as text.

    Only the first :data:`MAX_CSV_PREFIX` bytes are parsed; the row count is
    its lines (a quoted line break counts too).

    Raises:
        UnicodeDecodeError: The file is not UTF-8 text.
        csv.Error: It is not CSV.
    """
    prefix = data[:MAX_CSV_PREFIX]
    if len(data) > MAX_CSV_PREFIX:
        prefix = prefix[: prefix.rfind(b"\n") + 1]
        if not prefix:
            raise TooLarge(gettext("too wide to preview (its header is over 1 MiB): download it"))
    text = prefix.decode("utf-8")
    lines = csv.reader(io.StringIO(text, newline=""))
    header = next(lines, [])[:MAX_COLUMNS]
    rows: list[list[str]] = []
    for line in lines:
        if len(rows) == PREVIEW_ROWS:
            break
        cut = line[: len(header)]
        rows.append([_cell(v) for v in cut] + ["∅"] * (len(header) - len(cut)))
    total = max(data.count(b"\n") + (not data.endswith(b"\n")) - 1, len(rows)) if data else 0
    return Table(columns=header, rows=rows, total_rows=total)


def read_table(path: Path) -> pl.DataFrame | None:
    """The whole table of a Parquet output, or None when it is not one or is too long.

    The row count is read from the footer first: more than
    :data:`MAX_TABLE_ROWS` rows is no aggregate, and is never decoded whole.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        if meta.num_rows > MAX_TABLE_ROWS:
            return None
        groups = (meta.row_group(g) for g in range(meta.num_row_groups))
        chunks = (g.column(i) for g in groups for i in range(g.num_columns))
        size = sum(chunk.total_uncompressed_size for chunk in chunks)
        if size > MAX_TABLE_BYTES:
            return None
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError):
        return None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with archive.open(info) as handle:
        return handle.read(limit)


def _kind(name: str) -> Literal["table", "image", "text", "other"]:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _TABLES:
        return "table"
    if suffix == ".png":
        return "image"
    if suffix in _TEXTS:
        return "text"
    return "other"


def zip_members(path: Path | IO[bytes]) -> list[Member]:
    """What a reviewer sees of each file in a zip archive (a custom job's output or code).

    Raises:
        NotFound: The file is not a readable zip archive.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise NotFound(gettext("the output is not a readable zip archive")) from err
    members: list[Member] = []
    with archive:
        files = [i for i in archive.infolist() if not i.is_dir()]
        for index, info in enumerate(files[:MAX_MEMBERS]):
            if index < MAX_PREVIEWED or _kind(info.filename) in ("image", "other"):
                members.append(_member(archive, index, info))
            else:
                note = gettext(
                    "not previewed (over %(n)s files): download the output to read it"
                ) % {"n": MAX_PREVIEWED}
                members.append(Member(index, info.filename, info.file_size, "other", note=note))
        if len(files) > MAX_MEMBERS:
            note = gettext("%(n)s more files not listed (the checks fail it)") % {
                "n": len(files) - MAX_MEMBERS
            }
            members.append(Member(len(files), "…", 0, "other", note=note))
    return members


def _member(archive: zipfile.ZipFile, index: int, info: zipfile.ZipInfo) -> Member:
    kind = _kind(info.filename)
    name, size = info.filename, info.file_size
    if kind in ("other", "image"):
        return Member(index, name, size, kind)
    if size > MAX_MEMBER:
        return Member(index, name, size, kind, note=gettext("too large to preview"))
    data = _read_member(archive, info, MAX_MEMBER + 1)
    if kind == "text":
        text = data[: MAX_TEXT * 4].decode("utf-8", errors="replace")[:MAX_TEXT]
        return Member(index, name, size, kind, text=text)
    try:
        if name.lower().endswith(".parquet"):
            # the footer's row count, then the first rows of the first row group only
            table = parquet_table(io.BytesIO(data))
        else:
            table = csv_table(data)
    except TooLarge as err:
        return Member(index, name, size, kind, note=str(err))
    except (pl.exceptions.PanicException, OSError, UnicodeDecodeError, csv.Error):
        return Member(index, name, size, kind, note=gettext("not a readable table"))
    return Member(index, name, size, kind, table=table)


def zip_image(path: Path, index: int) -> bytes:
    """The bytes of PNG member ``index`` of a zip archive, checked to be a PNG.

    Raises:
        NotFound: No such member, not a PNG, or too large.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise NotFound(gettext("the output is not a readable zip archive")) from err
    with archive:
        files = [i for i in archive.infolist() if not i.is_dir()]
        if not 0 <= index < min(len(files), MAX_MEMBERS):
            raise NotFound(gettext("no such file in the output"))
        info = files[index]
        if _kind(info.filename) != "image" or info.file_size > MAX_MEMBER:
            raise NotFound(gettext("no such image in the output"))
        data = _read_member(archive, info, MAX_MEMBER + 1)
    if not data.startswith(PNG_MAGIC) or len(data) > MAX_MEMBER:
        raise NotFound(gettext("the file is not a PNG image"))
    return data


def model_member(path: Path) -> Member:
    """A trained model's file, readable by a reviewer: JSON pretty-printed, or a
    safetensors header (architecture, metrics, tensor names and shapes; no weights).

    Parsed with ``json`` and ``safetensors`` only: nothing is unpickled.
    """
    from safetensors import SafetensorError, safe_open

    size = path.stat().st_size
    if size > MAX_MEMBER:
        return Member(0, path.name, size, "text", note=gettext("too large to preview"))
    try:
        if path.suffix.lower() == ".json":
            if size > MAX_JSON_PRETTY:  # parsed and indented, JSON takes many times its bytes
                with path.open(encoding="utf-8", errors="replace") as handle:
                    text = handle.read(MAX_TEXT)
                return Member(0, path.name, size, "text", text=text + "\n… " + gettext("(cut)"))
            text = path.read_text(encoding="utf-8", errors="replace")
            try:
                return Member(0, path.name, size, "text", text=_pretty(json.loads(text)))
            except (ValueError, RecursionError):  # not JSON, or nested too deep to indent
                return Member(0, path.name, size, "text", text=_cut(text))
        with safe_open(str(path), framework="numpy") as weights:
            header = {
                "metadata": weights.metadata() or {},
                "tensors": {k: list(weights.get_slice(k).get_shape()) for k in weights.keys()},
            }
        return Member(0, path.name, size, "text", text=_pretty(header))
    except (OSError, ValueError, SafetensorError) as err:
        return Member(
            0,
            path.name,
            size,
            "other",
            note=gettext("not readable (%(error)s)") % {"error": type(err).__name__},
        )


def _pretty(value: object) -> str:
    """``value`` indented, encoded lazily no further than :data:`MAX_TEXT` characters."""
    encoder = json.JSONEncoder(ensure_ascii=False, indent=2)
    parts: list[str] = []
    length = 0
    for part in encoder.iterencode(value):  # with an indent, a generator: stops when cut
        parts.append(part)
        length += len(part)
        if length > MAX_TEXT:
            break
    return _cut("".join(parts))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n… " + gettext("(cut)")
