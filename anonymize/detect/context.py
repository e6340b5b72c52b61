"""Context words and how they move scores: the same rule in both detection paths.

Presidio's own enhancer matches context words against spaCy tokens; the blank
Chinese pipeline here has one token per character, so a word like 身份证
would never match, and a token window cannot be mirrored in polars. Instead
the *nearest* listed word within :data:`CONTEXT_WINDOW` characters before a
span decides: a supporting word (the entity's
:attr:`~anonymize.detect.entity.EntityDefinition.context`) raises the score as
Presidio does (add :data:`CONTEXT_BOOST`, at least :data:`CONTEXT_FLOOR`), a
word naming an order, waybill or invoice number halves it (for the entities
with ``negative_context``). The Presidio path applies it in
:class:`anonymize.detect.recognizer.NearestWordContextEnhancer`, the vector
path as polars expressions over the same regexes.
"""

from __future__ import annotations

import functools
import re

from anonymize.detect.entity import EntityDefinition

#: How many characters before a span are read for context words.
CONTEXT_WINDOW = 12
#: Presidio's defaults: a supporting word adds 0.35 and lifts the score to at least 0.4.
CONTEXT_BOOST = 0.35
CONTEXT_FLOOR = 0.4
#: A word naming another kind of number halves the score (below the usual threshold).
NEGATIVE_FACTOR = 0.5

#: Words that name a number which is not personal (order, waybill, invoice …).
NEGATIVE_CONTEXT = (
    "订单",
    "单号",
    "运单",
    "快递",
    "发票",
    "流水号",
    "交易号",
    "工单",
    "批次",
    "序列号",
    "条码",
    "型号",
    "票号",
)


def context_words(definition: EntityDefinition) -> str:
    """A regex group matching any supporting or negative word of the entity.

    The words are plain (letters, Chinese, spaces, dashes) and need no escaping.
    """
    words = definition.context + (NEGATIVE_CONTEXT if definition.negative_context else ())
    return "(" + "|".join(words) + ")"


def halving_words(definition: EntityDefinition) -> tuple[str, ...]:
    """The entity's context words that halve its score.

    Without any, the nearest word always raises the score: only whether a word
    occurs in the window matters, not which (the vector path then skips the
    capturing search for the nearest one).
    """
    words = definition.context + (NEGATIVE_CONTEXT if definition.negative_context else ())
    return tuple(word for word in words if word in NEGATIVE_CONTEXT)


def context_regex(definition: EntityDefinition) -> str:
    """A regex whose group 1 is the supporting or negative word nearest the window's end."""
    return "(?s:.*)" + context_words(definition)


@functools.cache
def _context_re(definition: EntityDefinition) -> re.Pattern[str]:
    return re.compile(context_regex(definition))


def adjust_for_context(score: float, word: str | None) -> float:
    """The score after the nearest context word ``word`` (None: no word in the window)."""
    if word is None:
        return score
    if word in NEGATIVE_CONTEXT:
        return score * NEGATIVE_FACTOR
    return min(1.0, max(score + CONTEXT_BOOST, CONTEXT_FLOOR))


def context_score(definition: EntityDefinition, text: str, start: int, score: float) -> float:
    """Score of a span starting at ``start`` in the normalized ``text`` after its context.

    The nearest listed word within :data:`CONTEXT_WINDOW` characters before
    the span decides: a supporting word raises the score, a word naming an
    order, waybill or invoice number lowers it, none leaves it.
    """
    window = text[max(0, start - CONTEXT_WINDOW) : start].lower()
    found = _context_re(definition).match(window)
    return adjust_for_context(score, found.group(1) if found else None)
