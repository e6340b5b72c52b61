"""Output of the service commands: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from policies.errors import SandboxError

out = Console(highlight=False)
err = Console(stderr=True)


def fail(error: SandboxError) -> NoReturn:
    """Print the service's message (it says what to do next) and exit 1."""
    err.print(f"[red]error:[/red] {error}", markup=True, highlight=False)
    raise typer.Exit(1)


def cell(value: Any) -> str:
    """A value as table text (floats shortened, lists joined, ``None`` as a dash)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def dump(data: Any) -> None:
    """Print ``data`` as JSON (UTF-8 text kept, dates as strings)."""
    typer.echo(json.dumps(data, ensure_ascii=False, default=str, indent=2))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A rich table; cells are escaped (``[`` in data is not markup)."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*(v if hasattr(v, "__rich_console__") else _plain(cell(v)) for v in r))
    return t


def _plain(text: str) -> Any:
    from rich.text import Text

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
        out.print(f"no {title}")
        return
    out.print(table(title, list(columns.values()), [[i.get(k) for k in columns] for i in items]))


def fields(title: str, item: Mapping[str, Any]) -> None:
    """Print one object's fields as a two-column table."""
    out.print(table(title, ["field", "value"], [[k, v] for k, v in item.items()]))
