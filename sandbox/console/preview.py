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

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal

import polars as pl

from policies.errors import NotFound
from sandbox._checks_files import MAX_MEMBERS

#: Rows shown of a table.
PREVIEW_ROWS = 20
#: Characters shown of one cell.
MAX_CELL = 80
#: Largest member read for a preview (uncompressed bytes).
MAX_MEMBER = 32 * 1024 * 1024
#: Most rows of an aggregate's table read whole (for its plots); the size check's cap.
MAX_TABLE_ROWS = 100_000
#: Largest trained model's JSON pretty-printed; a larger one is shown as its first characters.
MAX_JSON_PRETTY = 1 << 20
#: Characters shown of a text member.
MAX_TEXT = 4000
#: Members of one archive whose tables and texts are shown; the others (up to the checks'
#: cap, :data:`sandbox._checks_files.MAX_MEMBERS`) are listed, and their images shown.
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
        text = f"{value:.6g}"
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


def parquet_table(path: Path) -> Table:
    """The first rows of a Parquet file and its row count (read lazily)."""
    frame = pl.scan_parquet(path)
    total = int(frame.select(pl.len()).collect().item())
    return frame_table(frame.head(PREVIEW_ROWS).collect(), total)


def read_table(path: Path) -> pl.DataFrame | None:
    """The whole table of a Parquet output, or None when it is not one or is too long.

    The row count is read from the footer first: more than
    :data:`MAX_TABLE_ROWS` rows is no aggregate, and is never decoded whole.
    """
    try:
        lazy = pl.scan_parquet(path)
        if int(lazy.select(pl.len()).collect().item()) > MAX_TABLE_ROWS:
            return None
        return lazy.collect()
    except (pl.exceptions.PolarsError, OSError):
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
        raise NotFound("the output is not a readable zip archive") from err
    members: list[Member] = []
    with archive:
        files = [i for i in archive.infolist() if not i.is_dir()]
        for index, info in enumerate(files[:MAX_MEMBERS]):
            if index < MAX_PREVIEWED or _kind(info.filename) in ("image", "other"):
                members.append(_member(archive, index, info))
            else:
                note = f"not previewed (over {MAX_PREVIEWED} files): download the output to read it"
                members.append(Member(index, info.filename, info.file_size, "other", note=note))
        if len(files) > MAX_MEMBERS:
            note = f"{len(files) - MAX_MEMBERS} more files not listed (the checks fail it)"
            members.append(Member(len(files), "…", 0, "other", note=note))
    return members


def _member(archive: zipfile.ZipFile, index: int, info: zipfile.ZipInfo) -> Member:
    kind = _kind(info.filename)
    name, size = info.filename, info.file_size
    if kind in ("other", "image"):
        return Member(index, name, size, kind)
    if size > MAX_MEMBER:
        return Member(index, name, size, kind, note="too large to preview")
    data = _read_member(archive, info, MAX_MEMBER + 1)
    if kind == "text":
        text = data[: MAX_TEXT * 4].decode("utf-8", errors="replace")[:MAX_TEXT]
        return Member(index, name, size, kind, text=text)
    try:
        if name.lower().endswith(".parquet"):
            # the footer's row count, then the first rows only: never every row
            lazy = pl.scan_parquet(io.BytesIO(data))
            total = int(lazy.select(pl.len()).collect().item())
            table = frame_table(lazy.head(PREVIEW_ROWS).collect(), total)
        else:
            table = frame_table(pl.read_csv(io.BytesIO(data), infer_schema_length=1000))
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError, UnicodeDecodeError):
        return Member(index, name, size, kind, note="not a readable table")
    return Member(index, name, size, kind, table=table)


def zip_image(path: Path, index: int) -> bytes:
    """The bytes of PNG member ``index`` of a zip archive, checked to be a PNG.

    Raises:
        NotFound: No such member, not a PNG, or too large.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise NotFound("the output is not a readable zip archive") from err
    with archive:
        files = [i for i in archive.infolist() if not i.is_dir()]
        if not 0 <= index < min(len(files), MAX_MEMBERS):
            raise NotFound("no such file in the output")
        info = files[index]
        if _kind(info.filename) != "image" or info.file_size > MAX_MEMBER:
            raise NotFound("no such image in the output")
        data = _read_member(archive, info, MAX_MEMBER + 1)
    if not data.startswith(PNG_MAGIC) or len(data) > MAX_MEMBER:
        raise NotFound("the file is not a PNG image")
    return data


def model_member(path: Path) -> Member:
    """A trained model's file, readable by a reviewer: JSON pretty-printed, or a
    safetensors header (architecture, metrics, tensor names and shapes; no weights).

    Parsed with ``json`` and ``safetensors`` only: nothing is unpickled.
    """
    from safetensors import SafetensorError, safe_open

    size = path.stat().st_size
    if size > MAX_MEMBER:
        return Member(0, path.name, size, "text", note="too large to preview")
    try:
        if path.suffix.lower() == ".json":
            if size > MAX_JSON_PRETTY:  # parsed JSON takes tens of times its bytes
                with path.open(encoding="utf-8", errors="replace") as handle:
                    text = handle.read(MAX_TEXT)
                return Member(0, path.name, size, "text", text=text + "\n… (cut)")
            model = json.loads(path.read_text(encoding="utf-8"))
            return Member(0, path.name, size, "text", text=_pretty(model))
        with safe_open(str(path), framework="numpy") as weights:
            header = {
                "metadata": weights.metadata() or {},
                "tensors": {k: list(weights.get_slice(k).get_shape()) for k in weights.keys()},
            }
        return Member(0, path.name, size, "text", text=_pretty(header))
    except (OSError, ValueError, SafetensorError) as err:
        return Member(0, path.name, size, "other", note=f"not readable ({type(err).__name__})")


def _pretty(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n… (cut)"
