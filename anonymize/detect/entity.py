"""What an entity is: one frozen definition per entity, read by both detection paths.

An :class:`EntityDefinition` holds everything about one kind of personal
information: its rules (:class:`Rule`: the span's regex and what must surround
it), its context words, the validator a match must pass (a scalar function for
the Presidio path and its polars twin for the vector path), how it gives way to
another entity that claims the same span (:class:`GivesWay`), and examples
both paths must agree on. Each definition lives in its own file under
:mod:`anonymize.detect.entities`; the registry there lists them.

Every regex is written in the common subset of Python's :mod:`re` and Rust's
``regex`` crate (which polars uses): explicit character classes (``\\d``,
``\\w``, ``\\s`` differ between the two under Unicode), no look-around, scoped
flags only. Boundaries are fields of the rule, not part of its pattern: the
Presidio path turns them into look-around, the vector path consumes them and
steps back (see :mod:`anonymize.detect.vector`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import polars as pl

Kind = Literal["behind", "anchored"]
#: A polars predicate over a span (or its compacted number).
Stage = Callable[[pl.Expr], pl.Expr]


@dataclass(frozen=True, slots=True)
class Rule:
    """How one entity is found: the span's pattern, what must surround it, its score.

    Attributes:
        entity: The name of the entity a match is.
        pattern: The span itself.
        lead: What precedes the span. ``behind``: exactly two characters
            (a look-behind); ``anchored``: a context phrase consumed before the
            span.
        tail: What follows the span (not part of it).
        kind: How ``lead`` is read, see above.
        score: Base score of a valid match before context.
        forms: ``(regex, score)`` pairs; the first whose regex matches the whole
            span overrides ``score``.
        requires: A cheap regex every cell with a valid match contains; rules sharing
            one are searched for together first (see :func:`anonymize.detect.vector.scan_table`),
            and a classified column's cells without it skip this entity's rules
            (:mod:`anonymize.detect._routing`): a wrong one loses findings
            (``test_routing`` checks it on the corpus and the entities' examples).
        greedy: Whether the pattern prefers its longest match (no lazy quantifier), so
            that a cell matching it from end to end is one match (a fast path).
        tail_width: How many characters ``tail`` consumes (``ALONE_AFTER``: one,
            or two after a dot, read off the match).
        follow: What the text right after the span must start with, read over
            :data:`~anonymize.detect._names.FOLLOW_WIDTH` characters once the match is
            found (a check, not part of the match: a rejected match is not retried
            shorter, in either path).
        follow_word: Whether ``follow`` is also met where the two characters after
            the span are a common word (:func:`~anonymize.detect._names.following_words`:
            证人张伟认为, 患者李晶反复), and never where they are a word of a company's
            name (:data:`~anonymize.detect._names.ORG_WORDS`).
        bounded: Whether a span is dropped where a common two-character word
            straddles its end, or its start after a one-character boundary
            (``behind``; a context phrase ends where the span starts)
            (:func:`~anonymize.detect._names.straddling_words`: in 王芳交来押金 the
            name is 王芳, not 王芳交; 过程合作 holds no name, but 收件人马丽 does).
        fast: ``(pattern, longest)``: a pattern the vector path may search with
            instead of ``pattern``, because it finds the same match wherever that
            match is at most ``longest`` characters long (a longer one is searched
            again with ``pattern``).
    """

    entity: str
    pattern: str
    lead: str
    tail: str
    kind: Kind = "behind"
    score: float = 0.5
    forms: tuple[tuple[str, float], ...] = ()
    requires: str = "(?s:.)"
    greedy: bool = True
    tail_width: int = 1
    follow: str | None = None
    follow_word: bool = False
    bounded: bool = False
    fast: tuple[str, int] | None = None

    @property
    def whole_cell(self) -> bool:
        """Whether a cell that is one match from end to end may skip extraction."""
        return self.kind == "behind" and self.greedy

    def python_regex(self) -> re.Pattern[str]:
        """The rule for :mod:`re`: boundaries as look-around, the span as group 1."""
        lead = f"(?<={self.lead})" if self.kind == "behind" else f"(?:{self.lead})"
        return re.compile(f"{lead}({self.pattern})(?={self.tail})")

    def vector_regex(self, fast: bool = False) -> str:
        """The rule for polars (no look-around): boundaries consumed as groups.

        Groups: ``lead`` (the boundary or context before) and ``hit`` (the span).

        Args:
            fast: Search with the ``fast`` pattern, if the rule has one.
        """
        pattern = self.fast[0] if fast and self.fast is not None else self.pattern
        return f"(?P<lead>{self.lead})(?P<hit>{pattern})(?:{self.tail})"

    @property
    def step_back(self) -> int:
        """Characters a look-behind reads before the span: where the next search resumes."""
        return 2 if self.kind == "behind" else 0


@dataclass(frozen=True, slots=True)
class Validator:
    """A check a span must pass, the same in both paths.

    Attributes:
        scalar: The check of one span (the Presidio path; python-stdnum where a
            standard has a check character).
        stages: Its polars twin as predicates that must all hold, cheapest and
            most selective first, so that the costly ones run only on the
            candidates still standing.
        numeric: Whether the stages read the compacted number (no spaces or
            dashes, upper-case) rather than the span as matched.
    """

    scalar: Callable[[str], bool]
    stages: tuple[Stage, ...]
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class Trim:
    """How a valid-looking match is cut before it is validated (both paths).

    Attributes:
        scalar: ``(padded, start, end, span) -> (cut, span)``: the match
            ``span`` at ``padded[start:end]`` becomes ``span`` with ``cut``
            characters taken off its start.
        vector: The same over a frame of matches (``padded``, ``start``,
            ``end``, ``hit``; offsets into the cell).
    """

    scalar: Callable[[str, int, int, str], tuple[int, str]]
    vector: Callable[[pl.DataFrame], pl.DataFrame]


@dataclass(frozen=True, slots=True)
class GivesWay:
    """Where another entity claims a span of this one, this one gives the span up.

    A number can read as two entities at once (an 18-digit number can pass a
    card's Luhn check and a resident ID's GB 11643 check). The entity that gives
    way by default declares it; the other one needs no declaration.

    Attributes:
        to: The entity that takes the span where it claims it
            (:attr:`EntityDefinition.claim`).
        unless_words: Words that keep the span for this entity: the nearest of
            these and ``to``'s context words before the span decides (银行卡号
            keeps a card, 身份证号 gives it to the ID). Where one of ``to``'s
            words is nearest, ``to`` takes the span; where no word is, ``to``
            takes it too. Without words, ``to`` always takes it.

    Only an entity with a claim (or a validator) claims anything: giving way to
    one without either is a no-op.
    """

    to: EntityDefinition
    unless_words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class EntityDefinition:
    """One entity: what finds it, what it must pass, how it meets the others.

    Attributes:
        name: The entity's name in findings (Presidio's conventions).
        rules: How it is found; where several rules find one span, the first
            wins, and a span inside another of at least its score is dropped.
        context: Words that, nearest before a span, raise its score.
        validator: What a match must pass, if anything.
        claim: What a number reads as when another entity meets it, valid or
            not (a mistyped ID still reads as an ID); the validator when None.
        gives_way: Other entities that take a span of this one where they claim it.
        trim: How a match is cut before validation, if at all.
        personal: Whether it identifies a natural person (an organisation's code does not).
        negative_context: Whether words naming an order, waybill or invoice
            number halve its score (numbers only).
        contextual: Whether it is found by dictionaries and context rather than
            a checksum or a fixed structure: it then counts by majority only.
        weak_below: Below this score a finding is weak evidence (a bare
            name-shaped cell): the output scanner counts such findings only
            where they fill a column.
        examples: ``(text, span)``: texts in which both paths find ``span`` as
            this entity.
        counter_examples: Texts in which neither path finds this entity.

    Definitions compare by identity: each is one value in the registry.
    """

    name: str
    rules: tuple[Rule, ...]
    context: tuple[str, ...]
    validator: Validator | None = None
    claim: Validator | None = None
    gives_way: tuple[GivesWay, ...] = ()
    trim: Trim | None = None
    personal: bool = True
    negative_context: bool = False
    contextual: bool = False
    weak_below: float | None = None
    examples: tuple[tuple[str, str], ...] = ()
    counter_examples: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if any(rule.entity != self.name for rule in self.rules):
            raise ValueError("every rule of an entity names that entity")

    @property
    def claims(self) -> Validator | None:
        """What the number reads as against other entities (see :attr:`claim`)."""
        return self.claim if self.claim is not None else self.validator
