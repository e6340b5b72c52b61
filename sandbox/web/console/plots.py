"""Error bars of a DP aggregate output as inline SVG.

Hand-written rather than drawn by matplotlib: matplotlib's SVG carries
``<style>`` elements and ``style`` attributes, which the console's content
security policy (``default-src 'self'``, no inline styles) refuses; a few
lines of SVG with presentation attributes need no exception to it, no
JavaScript and no extra request. Every text is escaped.

Each aggregate column ``x`` with ``x_ci_low`` / ``x_ci_high`` (see
:mod:`jobs.dp.error_bars`) gets one panel: a row per group, a dot at the
noisy value and a bar over its 95 % interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl
from markupsafe import Markup, escape

from sandbox.web.console import formats, i18n
from sandbox.web.console.i18n import gettext

#: Groups drawn per panel; the preview table lists the rest.
MAX_GROUPS = 40
_WIDTH = 640
_LABEL = 170
_ROW = 18
_PAD = 24


@dataclass(frozen=True, slots=True)
class Panel:
    """One aggregate's error-bar plot."""

    measure: str
    svg: Markup


def measures(table: pl.DataFrame) -> list[str]:
    """Numeric columns of ``table`` that have both interval columns."""
    numeric = {c for c, t in table.schema.items() if t.is_numeric()}
    return [
        c
        for c in table.columns
        if c in numeric and f"{c}_ci_low" in numeric and f"{c}_ci_high" in numeric
    ]


def _label(row: dict[str, object], keys: list[str]) -> str:
    text = " · ".join("∅" if row[k] is None else str(row[k]) for k in keys) or gettext("all")
    return text if len(text) <= 28 else text[:27] + "…"


def _fmt(value: float) -> str:
    """Three significant digits, grouped, never in scientific notation (``35,171``)."""
    return formats.eps(value, i18n.current())


def error_bars(table: pl.DataFrame, group_by: list[str]) -> list[Panel]:
    """One SVG panel per aggregate of ``table`` that has a 95 % interval."""
    keys = [k for k in group_by if k in table.columns]
    return [Panel(m, _panel(table.head(MAX_GROUPS), keys, m)) for m in measures(table)]


def _panel(table: pl.DataFrame, keys: list[str], measure: str) -> Markup:
    rows = [
        r
        for r in table.select(
            [*keys, measure, f"{measure}_ci_low", f"{measure}_ci_high"]
        ).iter_rows(named=True)
        if all(
            isinstance(r[c], int | float) and math.isfinite(float(r[c]))
            for c in (measure, f"{measure}_ci_low", f"{measure}_ci_high")
        )
    ]
    height = _PAD * 2 + _ROW * max(len(rows), 1)
    label = gettext("95%% intervals of %(measure)s") % {"measure": measure}
    legend = gettext("(dot: noisy value; bar: interval at 95 %%)") % {}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="errorbars" width="{_WIDTH}" '
        f'height="{height}" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="{escape(label)}">',
        f'<text x="4" y="14" font-size="12" font-weight="bold">{escape(measure)} '
        f"{escape(legend)}</text>",
    ]
    if not rows:
        none = escape(gettext("no finite values"))
        parts.append(f'<text x="4" y="{_PAD + 12}" font-size="12">{none}</text></svg>')
        return Markup("".join(parts))  # noqa: S704 - every text above is escaped
    low = min(float(r[f"{measure}_ci_low"]) for r in rows)
    high = max(float(r[f"{measure}_ci_high"]) for r in rows)
    low, high = min(low, 0.0), max(high, 0.0)
    span = high - low or 1.0
    plot_w = _WIDTH - _LABEL - 16

    def x(v: float) -> float:
        return _LABEL + (v - low) / span * plot_w

    zero = x(0.0)
    parts.append(
        f'<line x1="{zero:.1f}" y1="{_PAD - 4}" x2="{zero:.1f}" y2="{height - _PAD + 4}" '
        'stroke="#999" stroke-dasharray="3,3"/>'
    )
    for i, r in enumerate(rows):
        y = _PAD + _ROW * i + _ROW / 2
        value = float(r[measure])
        lo, hi = float(r[f"{measure}_ci_low"]), float(r[f"{measure}_ci_high"])
        parts.append(
            f'<text x="{_LABEL - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{escape(_label(r, keys))}</text>"
            f'<line x1="{x(lo):.1f}" y1="{y:.1f}" x2="{x(hi):.1f}" y2="{y:.1f}" '
            'stroke="#1f5fa8" stroke-width="2"/>'
            f'<circle cx="{x(value):.1f}" cy="{y:.1f}" r="3.5" fill="#c0392b">'
            f"<title>{escape(_fmt(value))} [{escape(_fmt(lo))}, {escape(_fmt(hi))}]</title>"
            "</circle>"
        )
    axis_y = height - 6
    parts.append(
        f'<text x="{_LABEL}" y="{axis_y}" font-size="10">{escape(_fmt(low))}</text>'
        f'<text x="{_WIDTH - 16}" y="{axis_y}" font-size="10" text-anchor="end">'
        f"{escape(_fmt(high))}</text></svg>"
    )
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
