"""Where two entities meet on one span: who takes it, the same in both paths.

Each entity may give way to others (:class:`~anonymize.detect.entity.GivesWay`):
a bank card to a USCC, and to a resident ID unless a card word is nearest; a
USCC to a resident ID. The other side of a word-decided contest needs no
declaration: it is derived here (a resident ID gives way to a card where a
card word is nearest). :func:`yields` lists, for one entity, every
:class:`Yield`; :func:`claims` says whether an entity claims a number (its
claim, less what it gives way to without words); :func:`kept` applies the
yields to one span. :mod:`anonymize.detect._checks` has the polars twins.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from anonymize.detect.context import CONTEXT_WINDOW
from anonymize.detect.entities import ENTITIES
from anonymize.detect.entity import EntityDefinition


@dataclass(frozen=True, slots=True)
class Yield:
    """One entity gives a span up to ``other`` where ``other`` claims it, unless kept.

    Attributes:
        other: The entity that takes the span.
        words: The contest's words, the yielding entity's first: the nearest of
            them before the span decides (none: ``other`` takes every span it claims).
        keep: Those of ``words`` that keep the span.
        keep_without_word: Whether the span is kept where none of ``words`` is in the window.
    """

    other: EntityDefinition
    words: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    keep_without_word: bool = False

    @property
    def regex(self) -> str:
        """A regex whose group 1 is the contest word nearest the window's end."""
        return "(?s:.*)(" + "|".join(self.words) + ")"


@functools.cache
def yields(definition: EntityDefinition) -> tuple[Yield, ...]:
    """Every entity ``definition`` gives way to: declared, then derived from the others.

    >>> [way.keep_without_word for way in yields(ENTITIES[0])]  # an ID keeps a card-like one
    [True]
    """
    declared = tuple(
        Yield(way.to, (*way.unless_words, *way.to.context), way.unless_words)
        if way.unless_words
        else Yield(way.to)
        for way in definition.gives_way
    )
    derived = tuple(
        Yield(other, (*way.unless_words, *definition.context), definition.context, True)
        for other in ENTITIES
        for way in other.gives_way
        if way.to is definition and way.unless_words
    )
    return declared + derived


def claims(definition: EntityDefinition, number: str) -> bool:
    """Whether ``definition`` claims ``number`` against others: its claim holds and no entity
    it gives way to without words claims it."""
    check = definition.claims
    if check is None or not check.scalar(number):
        return False
    return not any(claims(y.other, number) for y in yields(definition) if not y.words)


@functools.cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def nearest_word(regex: str, text: str, start: int) -> str | None:
    """The word of ``regex`` (its group 1) nearest before ``start`` within the context window.

    >>> nearest_word("(?s:.*)(银行卡|身份证)", "银行卡已挂失，身份证号6222", 14)
    '身份证'
    """
    window = text[max(0, start - CONTEXT_WINDOW) : start].lower()
    found = _compiled(regex).match(window)
    return None if found is None else found.group(1)


def kept(definition: EntityDefinition, span: str, text: str, start: int) -> bool:
    """Whether a valid ``span`` of ``definition`` at ``start`` in ``text`` stays its own.

    Args:
        definition: The entity that found the span.
        span: The span as matched.
        text: The normalized text.
        start: The span's offset in ``text``.
    """
    for way in yields(definition):
        if not claims(way.other, span):
            continue
        if not way.words:
            return False
        word = nearest_word(way.regex, text, start)
        if not (way.keep_without_word if word is None else word in way.keep):
            return False
    return True
