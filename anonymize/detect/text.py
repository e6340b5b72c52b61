"""How a text is prepared for the rules, and the boundaries identifiers share.

A rule matches in a *prepared* text: full-width ASCII folded to half-width one
code point for one (so offsets still point into the original), then padded
with :data:`PAD_BEFORE` and :data:`PAD_AFTER` so that every match has a
character before and after it.

Boundary decision for numbers: an identifier stands alone. A letter, a digit or
``@`` right before or after it makes it part of a longer code (``SF...``
tracking numbers, invoice codes, e-mail local parts); a digit and a dot before
it, or a dot and a letter or digit after it, make it part of a decimal amount
(``13912345678.50`` 元 is an amount, not a phone) or a domain. A full stop that
ends a sentence (``…13912345678.``) is no part of the number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import polars as pl

#: Full-width ASCII (U+FF01-U+FF5E) and the ideographic space, folded one for one.
FULLWIDTH = (*(chr(c) for c in range(0xFF01, 0xFF5F)), "\u3000")
HALFWIDTH = (*(chr(c) for c in range(0x21, 0x7F)), " ")
_FOLD = str.maketrans(dict(zip(FULLWIDTH, HALFWIDTH, strict=True)))
#: Padding that gives every match a character on each side (two for look-behind).
PAD_BEFORE = "\n\n"
PAD_AFTER = "\n"

#: Before a number: not a letter, digit, ``@`` or ``.``; or a dot not after a digit.
ALONE_BEFORE = r"(?:(?s:.)[^0-9A-Za-z@.]|[^0-9]\.)"
#: After a number: not a letter, digit, ``@`` or ``.``; or a dot not before a letter or digit.
ALONE_AFTER = r"(?:[^0-9A-Za-z@.]|\.[^0-9A-Za-z])"
#: Any two characters (a look-behind that asks nothing) and any one.
ANY2 = r"(?s:..)"
ANY1 = r"(?s:.)"
#: Cheap regexes every match needs somewhere in its cell. Rules that share one (the number
#: rules: four digits) form a family the vector path first searches for as one alternation.
FOUR_DIGITS = "[0-9]{4}"


def normalize(text: str) -> str:
    """Fold full-width digits, letters and punctuation to ASCII; length is unchanged.

    >>> normalize("１３９　Ｅ")
    '139 E'
    """
    return text.translate(_FOLD)


def compact(candidate: str) -> str:
    """The candidate without spaces and dashes, upper-case.

    >>> compact("6222 0212-3456 x")
    '622202123456X'
    """
    return candidate.replace(" ", "").replace("-", "").upper()


def compact_expr(span: pl.Expr) -> pl.Expr:
    """Without spaces and dashes, upper-case (as :func:`compact`), over a column.

    Spans of the numeric rules hold only digits, ASCII letters, spaces and dashes.
    """
    return span.str.replace_all("[ -]", "").str.to_uppercase()


def alternation(words: Iterable[str]) -> str:
    """The words as one group for Python's ``re``: a trie behind a look-ahead.

    It matches what ``(?:`` + the words longest first, joined by ``|`` + ``)``
    matches, in the same order of preference: the words that match at one place
    are prefixes of one another, and both try the longest first (a trie node's
    end is an optional group that tries the longer words before it). ``re``
    tries an alternation's words one by one at every character; the look-ahead
    on the words' first characters turns most characters away with one test,
    and the trie tries one branch per character after that (fusion's name-slot
    regex, a hundred role words before a name, over ``benchmarks/pii_scan.py``'s
    3,000 notes: 0.24 → 0.07 s). Python's ``re`` only: Rust's ``regex`` (polars)
    has no look-ahead, and needs no help.

    Written here (25 lines) rather than taken from a package: its equivalence
    to the plain alternation is what matters, and the tests check it.

    >>> alternation(["护士", "护士长", "客户"])
    '(?:(?=[客护])(?:客户|护(?:士长?)))'
    """
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        if not word:
            raise ValueError("an alternation's words must not be empty")
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    if not root:
        raise ValueError("an alternation needs at least one word")

    def branches(node: dict[str, dict]) -> str:  # type: ignore[type-arg]
        parts = [re.escape(char) + branches(child) for char, child in sorted(node.items()) if char]
        if not parts:
            return ""
        body = parts[0] if len(parts) == 1 and len(parts[0]) == 1 else f"(?:{'|'.join(parts)})"
        return f"{body}?" if "" in node else body

    firsts = re.escape("".join(sorted(root)))
    return f"(?:(?=[{firsts}]){branches(root)})"


#: Where a stretch too long to read at once may be cut.
_PAUSE = re.compile(r"[，,、 ]")


def within_reach(text: str, start: int, end: int, limit: int) -> Iterator[tuple[int, int]]:
    """``[start, end)`` in pieces of at most ``limit`` characters, each cut after the last
    comma or space of its second half if it has one (an address is not cut mid-word).

    >>> list(within_reach("甲乙，丙丁戊己", 0, 7, 4))
    [(0, 3), (3, 7)]
    """
    while end - start > limit:
        m = _PAUSE.search(text[start + limit // 2 : start + limit][::-1])
        cut = start + limit - (m.start() if m else 0)
        yield start, cut
        start = cut
    yield start, end
