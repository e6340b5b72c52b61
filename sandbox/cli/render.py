"""Output of the CLI: rich tables for people, JSON for scripts, all of it made terminal-safe.

Everything the CLI prints passes through here, and text from the service or a
file (names, reasons, messages: an operator's code chose some of them) is
cleaned first: a terminal must never receive an escape sequence, a control
character or a bidirectional override from data. A column name holding
``ESC [2K`` could otherwise erase a line and print a green "ALL CHECKS PASS"
under the reviewer's eyes. Tables show each such sequence as ``�``; JSON keeps
the value exactly, written as ``\\uXXXX`` escapes, so it stays valid JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from policies.errors import SandboxError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

#: Characters a terminal acts on: C0 controls but tab and newline, DEL, C1 controls, and
#: the bidirectional marks, embeddings, overrides and isolates (Unicode TR 9; CVE-2021-42574).
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: An escape sequence (ECMA-48: CSI, OSC/DCS/PM/APC strings, two-byte escapes; 8-bit CSI),
#: removed whole so that its parameters do not show as text; else one control character.
_UNSAFE = re.compile(
    "\x1b\\[[0-?]*[ -/]*[@-~]?"
    "|\x1b[\\]P^_X][^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c)?"
    "|\x1b[ -/]*[0-~]?"
    "|\x9b[0-?]*[ -/]*[@-~]?"
    f"|[{_CONTROL}]"
)
#: What JSON output escapes beyond what :func:`json.dumps` does (it escapes C0 already).
_JSON_UNSAFE = re.compile(f"[{_CONTROL}]")


def safe(text: str) -> str:
    """``text`` with every escape sequence and control character shown as ``�``.

    >>> safe("col\\x1b[2K\\x1b[32mALL CHECKS PASS\\x1b[0m")
    'col��ALL CHECKS PASS�'
    >>> safe("ok\\ttab\\nnewline \\u202eright-to-left")
    'ok\\ttab\\nnewline �right-to-left'
    """
    return _UNSAFE.sub("\ufffd", text)


def json_text(data: Any, indent: int | None = 2) -> str:
    """``data`` as JSON text a terminal can show: UTF-8 kept, controls as ``\\uXXXX``.

    >>> json_text({"n\\x9b2J": "\\u202e"}, indent=None)
    '{"n\\\\u009b2J": "\\\\u202e"}'
    """
    text = json.dumps(data, ensure_ascii=False, default=str, indent=indent)
    return escape_json(text)


def escape_json(text: str) -> str:
    """JSON text with the controls :func:`json.dumps` leaves raw written as ``\\uXXXX``.

    They can only occur inside JSON strings, where the escape means the same character.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def say(text: str, *, to_err: bool = False) -> None:
    """Print one line of text (no markup; made safe; not wrapped at the console's width)."""
    (err if to_err else out).print(Text(safe(text)), markup=False, highlight=False, soft_wrap=True)


def fail(error: SandboxError) -> NoReturn:
    """Print the service's message (it says what to do next) and exit 1."""
    err.print(Text.assemble(("error:", "red"), " ", safe(str(error))), highlight=False)
    raise typer.Exit(1)


def cell(value: Any) -> str:
    """A value as table text (floats shortened, lists joined, ``None`` as a dash), made safe."""
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return safe(", ".join(str(v) for v in value))
    return safe(str(value))


def dump(data: Any) -> None:
    """Print ``data`` as JSON (UTF-8 text kept, dates as strings, controls escaped)."""
    typer.echo(json_text(data))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A rich table; cells are made safe and escaped (``[`` in data is not markup)."""
    t = Table(title=Text(safe(title)), title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(Text(safe(c)), overflow="fold")
    for r in rows:
        t.add_row(*(v if hasattr(v, "__rich_console__") else _plain(cell(v)) for v in r))
    return t


def _plain(text: str) -> Any:
    return Text(text)


def listing(
    title: str,
    items: Sequence[Mapping[str, Any]],
    columns: Mapping[str, str],
    as_json: bool,
) -> None:
    """Print ``items`` as JSON (all fields) or as a table of ``columns`` (key -> header)."""
    if as_json:
        dump(list(items))
        return
    if not items:
        say(f"no {title}")
        return
    out.print(table(title, list(columns.values()), [[i.get(k) for k in columns] for i in items]))


def fields(title: str, item: Mapping[str, Any]) -> None:
    """Print one object's fields as a two-column table."""
    out.print(table(title, ["field", "value"], [[k, v] for k, v in item.items()]))
