"""Helpers for the detection tests: both paths behind one call, and valid test numbers."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
from stdnum import luhn
from stdnum.cn import ric, uscc

#: One finding without its score: (entity, start, end).
Found = tuple[str, int, int]


def with_ric(first17: str) -> str:
    """Append the GB 11643 check character (stdnum wants a placeholder in its place)."""
    return first17 + ric.calc_check_digit(first17 + "0")


def with_luhn(body: str) -> str:
    """Append the Luhn check digit."""
    return body + luhn.calc_check_digit(body)


def with_uscc(first17: str) -> str:
    """Append the GB 32100 check character."""
    return first17 + uscc.calc_check_digit(first17)


def vector(text: str, threshold: float = 0.5) -> set[Found]:
    """Findings of the polars path for one text, as a one-cell table."""
    from anonymize.detect.vector import scan_table

    frame = scan_table(pl.DataFrame({"text": [text]}), threshold=threshold)
    return {(e, s, t) for e, s, t in frame.select("entity", "start", "end").iter_rows()}


def presidio(text: str, threshold: float = 0.5) -> set[Found]:
    """Findings of the Presidio path for one text."""
    from anonymize.detect.analyzer import analyze_text

    return {(s.entity, s.start, s.end) for s in analyze_text(text, threshold=threshold)}


PATHS: dict[str, Callable[[str], set[Found]]] = {"vector": vector, "presidio": presidio}


def values(path: str, text: str) -> set[tuple[str, str]]:
    """What ``path`` finds in ``text``, as (entity, the text of the span)."""
    return {(entity, text[start:end]) for entity, start, end in PATHS[path](text)}
