"""HTML for Jupyter's rich display (``_repr_html_``); every string is escaped.

Hand-written rather than through a template engine: the client must stay
light (no jinja2), and these are two small table shapes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_STYLE = "border-collapse:collapse;font-size:0.9em"
_CELL = "padding:2px 8px;text-align:left;border-bottom:1px solid #ddd"


def text(value: Any) -> str:
    """One value as escaped HTML text (floats shortened, ``None`` as a dash)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return html.escape(f"{value:.6g}")
    if isinstance(value, list | tuple):
        return html.escape(", ".join(str(v) for v in value))
    return html.escape(str(value))


def table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], caption: str | None = None
) -> str:
    """An HTML table of ``rows`` showing ``columns`` in order."""
    head = "".join(f'<th style="{_CELL}">{html.escape(c)}</th>' for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{text(r.get(c))}</td>' for c in columns) + "</tr>"
        for r in rows
    )
    title = f"<caption style='text-align:left'><b>{html.escape(caption or '')}</b></caption>"
    return (
        f'<table style="{_STYLE}">{title if caption else ""}'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def fields(title: str, items: Mapping[str, Any], note: str = "") -> str:
    """A titled two-column table of ``name: value`` pairs, with an optional note under it."""
    body = "".join(
        f'<tr><th style="{_CELL}">{html.escape(k)}</th><td style="{_CELL}">{text(v)}</td></tr>'
        for k, v in items.items()
    )
    after = f"<p style='margin:4px 0'>{html.escape(note)}</p>" if note else ""
    return f'<div><b>{html.escape(title)}</b><table style="{_STYLE}">{body}</table>{after}</div>'
