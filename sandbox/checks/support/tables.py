"""Read an output's files as the checks see them: tables, texts and images.

Used by :mod:`sandbox.checks.engine` before any check runs. Parquet and CSV
files are tables; a JSON document yields a table for every array of records in
it and a text of its other strings (keys included, so a key cannot hide a
name); plain text, safetensors headers and PNG text chunks are texts. CSV is
read with every column as text, so that a number keeps its digits as written.

Every reader is bounded by a :class:`Budget` shared by all files of an output:
a Parquet file's row count comes from its footer and only the rows (and
cells) the budget allows are decoded, so a few hundred kilobytes holding
300 million rows cost what the cap allows; text is streamed a line at a
time; a JSON document is measured before it is parsed (values and
containers are counted from its bytes) and parsed once. What the budget
refuses fails ``size`` with a reason that says what was not read, and text
the budget cuts is named in ``pii_scan`` ("scanned the first N lines").
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from sandbox.checks.support.files import UNREADABLE, Member, png_text, safetensors_strings

#: Values of integer tensors scanned per safetensors file.
MAX_TENSOR_VALUES = 5_000_000
#: Table cells (rows x columns) the checks hold in memory, all tables together.
MAX_CELLS = 50_000_000
#: Bytes of those cells as polars counts them (a Parquet dictionary can repeat one long
#: string on every row: cheap to read, but every check that touches it pays in full).
MAX_TABLE_BYTES = 512 << 20
#: Lines of text (and JSON strings) scanned for personal information, all texts together.
MAX_TEXT_LINES = 1_000_000
#: Characters of those lines, all together; a longer line is read in pieces of MAX_LINE.
MAX_TEXT_CHARS = 64 << 20
MAX_LINE = 1 << 20
#: JSON bytes parsed, all documents together.
MAX_JSON_BYTES = 64 << 20
#: Memory the parsed documents may take, all together, as :func:`json_cost` estimates it.
MAX_JSON_MEMORY = 512 << 20
#: Arrays of records read as tables, and the nesting depth walked, per document.
MAX_JSON_TABLES = 1000
MAX_JSON_DEPTH = 100
_INTEGER_DTYPES = frozenset({"U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64"})


class OverLimit(ValueError):
    """A file holds more than the checks read; the message says what (no value)."""


@dataclass(slots=True)
class Budget:
    """What the checks may still read of one output (its files draw on it in turn)."""

    rows: int
    cells: int
    table_bytes: int
    lines: int
    chars: int
    json_bytes: int
    json_memory: int = MAX_JSON_MEMORY

    def take_lines(self, lines: list[str]) -> int:
        """Keep the lines the budget allows (in place); the number kept."""
        kept = 0
        for line in lines:
            if self.lines < 1 or self.chars < len(line):
                break
            self.lines -= 1
            self.chars -= len(line)
            kept += 1
        del lines[kept:]
        return kept


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
    """Strings of a non-tabular file, one per line or value.

    Attributes:
        name: The file a reviewer knows.
        lines: The lines scanned (the first ones, as far as the budget reached).
        total: Lines (or strings) the file holds; more than ``len(lines)`` when cut.
    """

    name: str
    lines: tuple[str, ...]
    total: int = -1

    @property
    def cut(self) -> bool:
        """Whether lines of the file were left unscanned."""
        return self.total > len(self.lines)


@dataclass(slots=True)
class Read:
    """Everything the checks read from an output's members (the engine freezes it into
    :class:`sandbox.checks.base.Contents`)."""

    tables: list[Table] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    #: Names of images (no automatic scan can read them).
    images: list[str] = field(default_factory=list)
    #: Files that identified as their type but failed to read in full.
    problems: list[str] = field(default_factory=list)
    #: Files (or parts) the budget refused: they fail ``size``, unread.
    oversize: list[str] = field(default_factory=list)


def read_contents(members: list[Member], max_rows: int) -> Read:
    """Read every member within one :class:`Budget` (the size check reports the rest).

    Args:
        members: The output's files, identified and validated.
        max_rows: Rows read from all tables together (the kind's cap; more fail ``size``).
    """
    contents = Read()
    budget = Budget(
        max_rows, MAX_CELLS, MAX_TABLE_BYTES, MAX_TEXT_LINES, MAX_TEXT_CHARS, MAX_JSON_BYTES
    )
    for member in members:
        try:
            _read(member, budget, contents)
        except OverLimit as err:
            contents.oversize.append(f"'{member.name}' {err}")
        except (*UNREADABLE, RecursionError):
            what = (
                "is not valid JSON"
                if member.fmt == "json"
                else f"could not be read as {member.fmt}"
            )
            contents.problems.append(f"'{member.name}' {what}")
    return contents


def _read(member: Member, budget: Budget, contents: Read) -> None:
    if member.fmt == "parquet":
        _read_parquet(member, budget, contents)
    elif member.fmt == "csv":
        # Ragged lines are an error, not truncated: extra fields would escape every check.
        lazy = pl.scan_csv(member.path, infer_schema=False)
        rows = lazy.select(pl.len()).collect().item()  # streamed, not held
        take = _rows_to_take(member.name, rows, len(lazy.collect_schema()), budget, contents)
        frame = _within_bytes(lazy.head(take).collect(), budget)
        contents.tables.append(Table(member.name, frame, rows, textual=True))
    elif member.fmt == "json":
        _read_json(member, budget, contents)
    elif member.fmt == "txt":
        contents.texts.append(_read_text(member, budget))
    elif member.fmt == "png":
        contents.images.append(member.name)
        contents.texts.append(_text(member.name, png_text(member.path), budget))
    elif member.fmt == "safetensors":
        contents.texts.append(_text(member.name, safetensors_strings(member.path), budget))
        for key, tensor in integer_tensors(member.path, budget.lines):
            text = _text(f"{member.name}:{key}", list(tensor.lines), budget)
            contents.texts.append(Text(text.name, text.lines, max(text.total, tensor.total)))


def _read_parquet(member: Member, budget: Budget, contents: Read) -> None:
    """Rows and cells counted from the footer before any row is decoded."""
    import pyarrow.parquet as pq

    footer = pq.read_metadata(member.path)
    rows = footer.num_rows
    schema = pl.read_parquet_schema(member.path)
    if any(dtype.is_nested() for dtype in schema.values()):
        # A nested column holds any number of values per row: count them all.
        values = sum(
            footer.row_group(g).column(c).num_values
            for g in range(footer.num_row_groups)
            for c in range(footer.num_columns)
        )
        if values > budget.cells:
            raise OverLimit(
                f"holds {values} values in nested columns, more than the checks read "
                f"({budget.cells} cells left): not checked"
            )
        budget.cells -= values
    take = _rows_to_take(member.name, rows, len(schema), budget, contents)
    frame = _within_bytes(pl.scan_parquet(member.path).head(take).collect(), budget)
    contents.tables.append(Table(member.name, frame, rows))
    # Key-value metadata is free text a writer can fill; Arrow's schema is the header.
    metadata = pl.read_parquet_metadata(member.path)
    strings = [t for k, v in metadata.items() if k != "ARROW:schema" for t in (k, v)]
    if strings:
        contents.texts.append(_text(f"{member.name} (metadata)", strings, budget))


def _rows_to_take(name: str, rows: int, width: int, budget: Budget, contents: Read) -> int:
    """Rows of a table the budget allows; a cut by cells (not by rows) is reported here.

    A cut by rows is the size check's "rows exceed the cap"; a wide table cut
    below the row cap would otherwise pass with rows nobody checked.
    """
    by_cells = budget.cells // max(width, 1)
    take = max(min(rows, budget.rows, by_cells), 0)
    if take < rows and by_cells < min(rows, budget.rows):
        contents.oversize.append(
            f"'{name}': {rows} rows of {width} columns; the checks read {MAX_CELLS} cells "
            f"in all, so only its first {take} rows"
        )
    budget.rows -= take
    budget.cells -= take * max(width, 1)
    return take


def _within_bytes(frame: pl.DataFrame, budget: Budget) -> pl.DataFrame:
    """``frame`` if its cells' bytes fit the budget.

    Raises:
        OverLimit: They do not (the table is not checked).
    """
    size = int(frame.estimated_size())
    if size > budget.table_bytes:
        raise OverLimit(
            f"holds {size >> 20} MiB in the {frame.height} rows read, more than the checks "
            f"scan ({budget.table_bytes >> 20} MiB left): not checked"
        )
    budget.table_bytes -= size
    return frame


def _read_text(member: Member, budget: Budget) -> Text:
    """A text file a line at a time (a long line in pieces): nothing past the budget is held."""
    lines: list[str] = []
    total = 0
    taking = True
    with member.path.open(encoding="utf-8", newline=None) as handle:
        while line := handle.readline(MAX_LINE):
            total += 1
            taking = taking and budget.lines > 0 and budget.chars >= len(line)
            if taking:  # the first lines, without a gap
                lines.append(line.rstrip("\n"))
                budget.lines -= 1
                budget.chars -= len(line)
    return Text(member.name, tuple(lines), total)


def _text(name: str, strings: list[str], budget: Budget) -> Text:
    total = len(strings)
    budget.take_lines(strings)
    return Text(name, tuple(strings), total)


def _read_json(member: Member, budget: Budget, contents: Read) -> None:
    """Measure a JSON document from its bytes, parse it once, split it within the budget."""
    size = member.path.stat().st_size
    if size > budget.json_bytes:
        raise OverLimit(
            f"has {size} bytes of JSON, more than the checks parse ({budget.json_bytes} left): "
            "not checked; write large tables as CSV or Parquet"
        )
    data = member.path.read_bytes()
    cost = json_cost(data)
    if cost > budget.json_memory:
        raise OverLimit(
            f"would take about {cost >> 20} MiB to parse ({budget.json_memory >> 20} MiB left "
            "to the checks): not checked; write large tables as CSV or Parquet"
        )
    budget.json_bytes -= size
    budget.json_memory -= cost
    document = json.loads(data)
    del data
    tables, strings, total = split_json(document, budget.lines)
    for where, records in tables:
        frame = _records(records)
        take = _rows_to_take(f"{member.name}:{where}", len(frame), frame.width, budget, contents)
        contents.tables.append(Table(f"{member.name}:{where}", frame.head(take), len(frame)))
    kept = budget.take_lines(strings)
    contents.texts.append(Text(member.name, tuple(strings), total - len(strings) + kept))


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


def integer_tensors(path: Path, lines: int = MAX_TEXT_LINES) -> list[tuple[str, Text]]:
    """Integer tensors of a safetensors file as texts to scan.

    Trained weights are floats; an integer tensor can carry identifiers as
    numbers, and a byte tensor can carry text. Bytes are decoded as UTF-8 and
    split into lines; wider integers are rendered one per line, at most
    ``lines`` of them (the text's total counts them all). At most
    :data:`MAX_TENSOR_VALUES` values per file are read.
    """
    from safetensors import safe_open

    texts: list[tuple[str, Text]] = []
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
                split = text.splitlines()
                texts.append((key, Text(key, tuple(split[:lines]), len(split))))
            else:
                shown = tuple(str(v) for v in values[:lines].tolist())
                texts.append((key, Text(key, shown, int(values.size))))
    return texts


def json_cost(data: bytes) -> int:
    """Bytes that parsing ``data`` with :mod:`json` may take, counted from its bytes alone.

    Upper bounds from CPython's object sizes: every value but the first of a
    container follows a comma (a value: an object of up to 32 bytes and its
    8-byte slot), a string opens with a quote (about 56 bytes beside its
    text), a container opens with a bracket (an empty dict is 64 bytes, and
    a record's dict grows with its keys). A comma, quote or bracket inside a
    string counts too: the estimate only errs high.

    >>> json_cost(b'[0, 1]') < json_cost(b'["a", "b"]') < json_cost(b'[{}, {}]')
    True
    """
    containers = data.count(b"{") + data.count(b"[")
    values = data.count(b",") + containers + 1
    strings = data.count(b'"') // 2
    return len(data) + 40 * values + 60 * strings + 250 * containers


def split_json(
    document: Any, max_strings: int = MAX_TEXT_LINES
) -> tuple[list[tuple[str, list[dict[str, Any]]]], list[str], int]:
    """Arrays of records in a JSON document, and its other strings and integers.

    Walks the document without recursion (a deep document cannot exhaust the
    stack), no deeper than :data:`MAX_JSON_DEPTH`. An array whose every
    element is an object is a table (at most :data:`MAX_JSON_TABLES`); object
    keys and scalar strings and integers elsewhere are texts (an integer may be
    a phone number), the first ``max_strings`` kept and all counted. A
    location is spelled only for a table: scalars cost no path.

    Returns:
        ``(tables, strings, total)``: tables as (JSONPath-like location,
        records); the strings kept; how many strings the document holds.

    Raises:
        OverLimit: The document nests too deep or holds too many tables.

    >>> split_json({"rows": [{"a": 1}, {"a": 2}], "note": "x", "coef": [0.5]})
    ([('$.rows', [{'a': 1}, {'a': 2}])], ['rows', 'note', 'x', 'coef'], 4)
    >>> split_json([7, "x", [8]], max_strings=1)
    ([], ['7'], 3)
    """
    tables: list[tuple[str, list[dict[str, Any]]]] = []
    strings: list[str] = []
    total = 0
    # (parent location, step, node, depth); a location is a linked pair until it is spelled.
    stack: list[tuple[Any, object, Any, int]] = [(None, "$", document, 0)]
    while stack:
        parent, step, node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise OverLimit(f"nests deeper than {MAX_JSON_DEPTH} levels: not checked")
        here = (parent, step)
        children: Iterable[tuple[object, Any]] = ()
        if isinstance(node, list):
            if node and all(isinstance(item, dict) for item in node):
                if len(tables) >= MAX_JSON_TABLES:
                    raise OverLimit(f"holds more than {MAX_JSON_TABLES} tables: not checked")
                tables.append((_spell(here), node))
                continue
            children = enumerate(node)
        elif isinstance(node, dict):
            children = node.items()
        nested: list[tuple[Any, object, Any, int]] = []
        for key, value in children:
            if isinstance(key, str):
                total += 1
                if len(strings) < max_strings:
                    strings.append(key)
            if isinstance(value, list | dict):
                nested.append((here, key, value, depth + 1))
            elif isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
                total += 1
                if len(strings) < max_strings:
                    strings.append(value if isinstance(value, str) else str(value))
        stack.extend(reversed(nested))  # document order
        if not isinstance(node, list | dict) and parent is None:
            # A document that is a bare scalar.
            if isinstance(node, str) or (isinstance(node, int) and not isinstance(node, bool)):
                total += 1
                if len(strings) < max_strings:
                    strings.append(str(node))
    return tables, strings, total


def _spell(location: tuple[Any, object]) -> str:
    """``$.rows[3].x`` from a linked location."""
    steps: list[object] = []
    while location is not None:
        location, step = location
        steps.append(step)
    return "".join(
        f"[{s}]" if isinstance(s, int) else f".{s}" if i else str(s)
        for i, s in enumerate(reversed(steps))
    )
