"""Read an output's files as the checks see them: tables, texts and images.

Part of :mod:`sandbox.checks`. Parquet and CSV files are tables; a JSON
document yields a table for every array of records in it and a text of its
other strings (keys included, so a key cannot hide a name); plain text,
safetensors headers and PNG text chunks are texts. CSV is read with every
column as text, so that a number keeps its digits as written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from sandbox._checks_files import UNREADABLE, Member, png_text, safetensors_strings

#: Values of integer tensors scanned per safetensors file.
MAX_TENSOR_VALUES = 5_000_000
_INTEGER_DTYPES = frozenset({"U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64"})


@dataclass(frozen=True, slots=True)
class Table:
    """A tabular file (or a table inside a JSON document).

    Attributes:
        name: The file name a reviewer knows (``model.json:$.rows`` inside JSON).
        frame: Its rows, at most the row cap.
        rows: Its rows in the file.
        textual: Read from CSV: every column is a string.
    """

    name: str
    frame: pl.DataFrame
    rows: int
    textual: bool = False


@dataclass(frozen=True, slots=True)
class Text:
    """Strings of a non-tabular file, one per line or value."""

    name: str
    lines: tuple[str, ...]


@dataclass(slots=True)
class Contents:
    """Everything the checks read from an output's members."""

    tables: list[Table] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    #: Names of images (no automatic scan can read them).
    images: list[str] = field(default_factory=list)
    #: Files that identified as their type but failed to read in full.
    problems: list[str] = field(default_factory=list)


def read_contents(members: list[Member], max_rows: int) -> Contents:
    """Read every member; a table is cut at ``max_rows`` (the size check reports the rest)."""
    contents = Contents()
    for member in members:
        try:
            _read(member, max_rows, contents)
        except (*UNREADABLE, RecursionError):
            contents.problems.append(f"'{member.name}' could not be read as {member.fmt}")
    return contents


def _read(member: Member, max_rows: int, contents: Contents) -> None:
    if member.fmt == "parquet":
        lazy = pl.scan_parquet(member.path)
        rows = lazy.select(pl.len()).collect().item()
        contents.tables.append(Table(member.name, lazy.head(max_rows).collect(), rows))
        # Key-value metadata is free text a writer can fill; Arrow's schema is the header.
        metadata = pl.read_parquet_metadata(member.path)
        strings = [t for k, v in metadata.items() if k != "ARROW:schema" for t in (k, v)]
        if strings:
            contents.texts.append(Text(f"{member.name} (metadata)", tuple(strings)))
    elif member.fmt == "csv":
        # Ragged lines are an error, not truncated: extra fields would escape every check.
        lazy = pl.scan_csv(member.path, infer_schema=False)
        rows = lazy.select(pl.len()).collect().item()
        frame = lazy.head(max_rows).collect()
        contents.tables.append(Table(member.name, frame, rows, textual=True))
    elif member.fmt == "json":
        document = json.loads(member.path.read_bytes())
        tables, strings = split_json(document)
        for where, records in tables:
            frame = _records(records)
            contents.tables.append(
                Table(f"{member.name}:{where}", frame.head(max_rows), len(frame))
            )
        contents.texts.append(Text(member.name, tuple(strings)))
    elif member.fmt == "txt":
        text = member.path.read_text(encoding="utf-8")
        contents.texts.append(Text(member.name, tuple(text.splitlines())))
    elif member.fmt == "png":
        contents.images.append(member.name)
        contents.texts.append(Text(member.name, tuple(png_text(member.path))))
    elif member.fmt == "safetensors":
        contents.texts.append(Text(member.name, tuple(safetensors_strings(member.path))))
        contents.texts += [Text(f"{member.name}:{k}", t) for k, t in integer_tensors(member.path)]


def _records(records: list[dict[str, Any]]) -> pl.DataFrame:
    """Records as a table; mixed types in a field fall back to every value as JSON text."""
    try:
        return pl.from_dicts(records, infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
        # OverflowError: an integer wider than polars' widest (10**200) is kept as its text.
        rendered = [
            {
                k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                for k, v in r.items()
            }
            for r in records
        ]
        return pl.from_dicts(rendered, infer_schema_length=None)


def integer_tensors(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Integer tensors of a safetensors file as texts to scan.

    Trained weights are floats; an integer tensor can carry identifiers as
    numbers, and a byte tensor can carry text. Bytes are decoded as UTF-8 and
    split into lines; wider integers are rendered one per line. At most
    :data:`MAX_TENSOR_VALUES` values per file are read.
    """
    from safetensors import safe_open

    texts: list[tuple[str, tuple[str, ...]]] = []
    budget = MAX_TENSOR_VALUES
    with safe_open(str(path), framework="numpy") as handle:
        for key in handle.keys():
            dtype = handle.get_slice(key).get_dtype()
            if dtype not in _INTEGER_DTYPES or budget <= 0:
                continue
            values = handle.get_tensor(key).reshape(-1)[:budget]
            budget -= values.size
            if dtype in ("U8", "I8"):
                text = values.astype("uint8").tobytes().decode("utf-8", errors="replace")
                texts.append((key, tuple(text.splitlines())))
            else:
                texts.append((key, tuple(str(v) for v in values.tolist())))
    return texts


def split_json(document: Any) -> tuple[list[tuple[str, list[dict[str, Any]]]], list[str]]:
    """Arrays of records in a JSON document, and its other strings and integers.

    Walks the document without recursion (a deep document cannot exhaust the
    stack). An array whose every element is an object is a table; object keys
    and scalar strings and integers elsewhere are texts (an integer may be a
    phone number).

    Returns:
        ``(tables, strings)``: tables as (JSONPath-like location, records).

    >>> split_json({"rows": [{"a": 1}, {"a": 2}], "note": "x", "coef": [0.5]})
    ([('$.rows', [{'a': 1}, {'a': 2}])], ['rows', 'note', 'x', 'coef'])
    """
    tables: list[tuple[str, list[dict[str, Any]]]] = []
    strings: list[str] = []
    stack: list[tuple[str, Any]] = [("$", document)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, list):
            if node and all(isinstance(item, dict) for item in node):
                tables.append((where, node))
            else:
                stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(node))))
        elif isinstance(node, dict):
            for key, value in reversed(list(node.items())):
                stack.append((f"{where}.{key}", value))
                stack.append(("", str(key)))
        elif isinstance(node, str):
            strings.append(node)
        elif isinstance(node, int) and not isinstance(node, bool):
            strings.append(str(node))
    return tables, strings
