"""The rules of every entity run on one text: the scalar engine of the Presidio path.

Every rule comes from the entity definitions of
:mod:`anonymize.detect.entities`, the source the polars path
(:mod:`anonymize.detect.vector`) reads too, so the two cannot drift apart.
:func:`find_spans` finds the valid matches of one rule; a match is trimmed
(:attr:`~anonymize.detect.entity.EntityDefinition.trim`), validated, checked
for what follows it and what straddles its edges, and kept only where no other
entity takes it (:mod:`anonymize.detect.overlap`).
"""

from __future__ import annotations

import re

from anonymize.detect._names import (
    COMPOUND_SURNAMES,
    FOLLOW_WIDTH,
    ORG_WORDS,
    following_words,
    straddling_words,
    third_taken,
)
from anonymize.detect.entities import ENTITIES
from anonymize.detect.entity import EntityDefinition, Rule
from anonymize.detect.overlap import kept
from anonymize.detect.text import PAD_AFTER, PAD_BEFORE, normalize

__all__ = ["RULES", "base_score", "drop_contained", "find_spans", "normalize", "straddled"]

#: Every rule of every entity, in registry order.
RULES: tuple[Rule, ...] = tuple(rule for definition in ENTITIES for rule in definition.rules)

_COMPILED: dict[Rule, tuple[re.Pattern[str], tuple[tuple[re.Pattern[str], float], ...]]] = {
    rule: (rule.python_regex(), tuple((re.compile(f), s) for f, s in rule.forms)) for rule in RULES
}
_FOLLOW = {rule: re.compile(rule.follow) for rule in RULES if rule.follow is not None}


def base_score(rule: Rule, span: str) -> float:
    """The rule's score for ``span``: the first matching form's, else the rule's."""
    for form, score in _COMPILED[rule][1]:
        if form.fullmatch(span):
            return score
    return rule.score


def straddled(padded: str, start: int, end: int, opening: bool = True) -> bool:
    """Whether a common two-character word straddles the end of ``padded[start:end]``, or
    (``opening``) its start; or a name's optional third character opens a word.

    A name of a surname and two given-name characters whose last character and
    the next one form a common word that takes the character (:func:`third_taken`)
    is read as the two-character name before that word (彭勇常年在外: 彭勇, not 彭勇常).
    """
    words = straddling_words()
    closing = padded[end - 1 : end + 1]
    if closing in words or (opening and padded[start - 1 : start + 1] in words):
        return True
    third = end - start == 3 and padded[start : start + 2] not in COMPOUND_SURNAMES
    return third and third_taken(closing, padded[end : end + 2])


def _followed(rule: Rule, padded: str, end: int) -> bool:
    """Whether what follows the span at ``padded[end]`` meets ``rule.follow``."""
    follow = _FOLLOW.get(rule)
    if follow is None:
        return True
    after = padded[end:][:FOLLOW_WIDTH]
    if rule.follow_word and after[:2] in ORG_WORDS:
        return False
    worded = rule.follow_word and after[:2] in following_words()
    return worded or follow.match(after) is not None


def find_spans(definition: EntityDefinition, rule: Rule, text: str) -> list[tuple[int, int, float]]:
    """Valid matches of ``rule`` in ``text`` as ``(start, end, base score)``, code points.

    Args:
        definition: The entity the rule belongs to.
        rule: One of its rules.
        text: Already normalized with :func:`normalize`.
    """
    regex = _COMPILED[rule][0]
    validator = definition.validator
    shift = len(PAD_BEFORE)
    padded = PAD_BEFORE + text + PAD_AFTER
    spans = []
    for match in regex.finditer(padded):
        span = match.group(1)
        start = match.start(1) - shift
        if definition.trim is not None:
            cut, span = definition.trim.scalar(padded, match.start(1), match.end(1), span)
            start += cut
        if validator is not None and not validator.scalar(span):
            continue
        if not _followed(rule, padded, match.end(1)):
            continue
        if rule.bounded and straddled(padded, match.start(1), match.end(1), rule.kind == "behind"):
            continue
        if not kept(definition, span, text, start):
            continue
        spans.append((start, start + len(span), base_score(rule, span)))
    return spans


def drop_contained(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Spans of one entity without those inside another with at least their score.

    The rule of Presidio's ``EntityRecognizer.remove_duplicates``, which the
    Presidio path applies after context; the polars path applies it to every
    entity with several rules (one rule's matches never overlap; repeats keep
    their highest score).

    >>> drop_contained([(0, 3, 0.6), (0, 3, 0.85), (1, 3, 0.7), (0, 2, 0.9)])
    [(0, 2, 0.9), (0, 3, 0.85)]
    """
    kept_spans: list[tuple[int, int, float]] = []
    for start, end, score in sorted(set(spans), key=lambda s: (s[0], s[0] - s[1], -s[2])):
        inside = any(s <= start and end <= e and score <= v for s, e, v in kept_spans)
        if not inside:
            kept_spans.append((start, end, score))
    return sorted(kept_spans)
