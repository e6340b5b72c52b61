"""The checks of the vector path as polars expressions: the twins of the scalar engine.

Not API. :mod:`anonymize.detect.rules` checks one match at a time; here the
same checks filter a frame of matches (``row``, ``padded``, ``start``, ``end``,
``hit``; offsets into the cell): the entity's validator stage by stage
(cheapest and most selective first, so that the costly ones run only on the
candidates still standing), what follows a span, what straddles its edges,
and the yields to other entities (:mod:`anonymize.detect.overlap`). No Python
runs per cell.
"""

from __future__ import annotations

import functools

import polars as pl

from anonymize.detect._names import (
    COMPOUND_SURNAMES,
    FOLLOW_WIDTH,
    FOLLOW_WORDS,
    GLUED_WORDS,
    ORG_WORDS,
    THIRD_MIN_FREQUENCY,
    following_words,
    straddling_words,
    two_character_frequencies,
)
from anonymize.detect.context import CONTEXT_WINDOW
from anonymize.detect.entity import EntityDefinition, Validator
from anonymize.detect.overlap import Yield, yields
from anonymize.detect.text import PAD_BEFORE, compact_expr


def _value(check: Validator, span: pl.Expr) -> pl.Expr:
    return compact_expr(span) if check.numeric else span


def valid(definition: EntityDefinition, span: pl.Expr) -> pl.Expr:
    """The validator of ``definition`` and its yields without words, as one predicate.

    The twin of the scalar validator followed by
    :func:`anonymize.detect.overlap.kept` where no word decides (True when
    there is nothing to check).
    """
    check = definition.validator
    predicate = pl.lit(True)
    if check is not None:
        value = _value(check, span)
        predicate = pl.all_horizontal(stage(value) for stage in check.stages)
    for way in yields(definition):
        if not way.words:
            predicate = predicate & ~claims(way.other, span)
    return predicate


def claims(definition: EntityDefinition, span: pl.Expr) -> pl.Expr:
    """Whether ``definition`` claims the number in ``span`` against others (as
    :func:`anonymize.detect.overlap.claims`)."""
    check = definition.claims
    if check is None:
        return pl.lit(False)
    value = _value(check, span)
    claimed = pl.all_horizontal(stage(value) for stage in check.stages)
    for way in yields(definition):
        if not way.words:
            claimed = claimed & ~claims(way.other, span)
    return claimed


def keep_valid(
    frame: pl.DataFrame, definition: EntityDefinition, column: str = "hit"
) -> pl.DataFrame:
    """The rows of ``frame`` whose ``column`` passes the entity's validator, stage by stage,
    and that no entity takes without words."""
    value = pl.col(column)
    check = definition.validator
    if check is not None:
        if check.numeric:
            frame = frame.with_columns(compact_expr(value).alias("_number"))
        number = pl.col("_number") if check.numeric else value
        for stage in check.stages:
            if not frame.height:
                break
            frame = frame.filter(stage(number))
        frame = frame.drop("_number", strict=False)
    for way in yields(definition):
        if not way.words and frame.height:
            frame = frame.filter(~claims(way.other, value))
    return frame


def _window(padded: pl.Expr, start: pl.Expr) -> pl.Expr:
    """The lower-cased context window before ``start`` (an offset into the cell)."""
    opening = (start - CONTEXT_WINDOW).clip(lower_bound=0)
    return padded.str.slice(opening + len(PAD_BEFORE), start - opening).str.to_lowercase()


def nearest_in(padded: pl.Expr, start: pl.Expr, way: Yield, words: tuple[str, ...]) -> pl.Expr:
    """Whether the nearest of the contest's words before ``start`` is one of ``words``.

    The twin of :func:`anonymize.detect.overlap.nearest_word`; ``start`` is an
    offset into the cell (the padding is skipped here).
    """
    nearest = _window(padded, start).str.extract(way.regex, 1)
    return nearest.is_in(pl.Series(words, dtype=pl.String).implode()).fill_null(False)


def _any_before(padded: pl.Expr, start: pl.Expr, words: tuple[str, ...]) -> pl.Expr:
    """Whether any of ``words`` is in the window: what :func:`nearest_in` needs first.

    A plain search, many times cheaper than the capture that finds the nearest word.
    """
    return _window(padded, start).str.contains("|".join(words)).fill_null(False)


def _filtered(frame: pl.DataFrame, *stages: pl.Expr) -> pl.DataFrame:
    """``frame`` filtered by each predicate in turn, stopping once no row is left."""
    for stage in stages:
        if not frame.height:
            break
        frame = frame.filter(stage)
    return frame


def gives_way_first(definition: EntityDefinition) -> bool:
    """Whether the entity gives spans up by default where another claims them (a card to an
    ID): its word-decided yields are then read before its validator, because in a column of
    the other entity every span is given up before any costly check."""
    return any(way.words and not way.keep_without_word for way in yields(definition))


def keep_in_context(frame: pl.DataFrame, definition: EntityDefinition) -> pl.DataFrame:
    """Rows of ``frame`` (``padded``, ``start``, ``hit``) that no entity takes by its words.

    The word-decided yields of :func:`anonymize.detect.overlap.kept`: an
    18-digit number that reads as a card and an ID is a card only where a card
    word is the nearest card or ID word. Cheapest first: no word precedes a
    cell's start; a word is searched for plainly before the nearest one is
    captured; the other entity's claim is read only where it matters.
    """
    for way in yields(definition):
        if not way.words or not frame.height:
            continue
        frame = _keep_in_contest(frame, way)
    return frame


def _keep_in_contest(frame: pl.DataFrame, way: Yield) -> pl.DataFrame:
    hit, padded, start = pl.col("hit"), pl.col("padded"), pl.col("start")
    # No word before a cell's start: only spans inside a cell are read in context.
    inside = start > 0
    if way.keep_without_word:
        # Given up only where one of the other's words is nearest and the other claims it.
        theirs = tuple(w for w in way.words if w not in way.keep)
        claimed = _filtered(
            frame,
            inside,
            _any_before(padded, start, theirs),
            claims(way.other, hit),
            nearest_in(padded, start, way, theirs),
        )
        if not claimed.height:
            return frame
        return frame.join(claimed.select("row", "start"), on=["row", "start"], how="anti")
    # Given up where the other claims it, unless one of ours is nearest: one pass decides
    # which rows are in doubt, and a doubtful one at a cell's start is dropped without
    # reading its window.
    flags = frame.select(claims(way.other, hit).alias("doubt"), inside.alias("inside"))
    sure, read = ~flags["doubt"], flags["doubt"] & flags["inside"]
    if sure.all():
        return frame
    ours = (_any_before(padded, start, way.keep), nearest_in(padded, start, way, way.keep))
    return pl.concat([frame.filter(sure), _filtered(frame.filter(read), *ours)])


def keep_followed(frame: pl.DataFrame, follow: str | None, word: bool = False) -> pl.DataFrame:
    """Rows of ``frame`` (``padded``, ``end``) whose text after the span matches ``follow``
    or, with ``word``, opens with a common two-character word (and with no word of a
    company's name)."""
    if follow is None or not frame.height:
        return frame
    after = pl.col("padded").str.slice(pl.col("end") + len(PAD_BEFORE), FOLLOW_WIDTH)
    kept = after.str.contains(f"^(?:{follow})")
    if word:
        opening = after.str.slice(0, 2)
        org = pl.Series(sorted(ORG_WORDS), dtype=pl.String).implode()
        kept = (kept | opening.is_in(_following_words().implode())) & ~opening.is_in(org)
    return frame.filter(kept)


@functools.cache
def _straddling_words() -> pl.Series:
    return pl.Series("words", sorted(straddling_words()), dtype=pl.String)


@functools.cache
def _frequencies() -> tuple[pl.Series, pl.Series]:
    frequencies = two_character_frequencies()
    words = sorted(frequencies)
    return pl.Series(words, dtype=pl.String), pl.Series([frequencies[w] for w in words])


@functools.cache
def _third_exceptions() -> tuple[pl.Series, pl.Series]:
    """Compound surnames (no third given-name character) and the words that follow names."""
    compound = pl.Series(COMPOUND_SURNAMES, dtype=pl.String)
    return compound, pl.Series((*GLUED_WORDS, *FOLLOW_WORDS), dtype=pl.String)


@functools.cache
def _following_words() -> pl.Series:
    return pl.Series("words", sorted(following_words()), dtype=pl.String)


def keep_bounded(frame: pl.DataFrame, bounded: bool, opening: bool) -> pl.DataFrame:
    """Rows of ``frame`` (``padded``, ``start``, ``end``, ``hit``) where no common
    two-character word straddles the span's end or, with ``opening``, its start, and no
    three-character name's last character opens a following word (as
    :func:`anonymize.detect.rules.straddled`)."""
    if not bounded or not frame.height:
        return frame
    padded, hit = pl.col("padded"), pl.col("hit")
    words = _straddling_words().implode()
    closing = hit.str.slice(-1) + padded.str.slice(pl.col("end") + len(PAD_BEFORE), 1)
    kept = ~closing.is_in(words)
    # A three-character name's last character taken by a word (as _names.third_taken).
    known, frequencies = _frequencies()
    after = padded.str.slice(pl.col("end") + len(PAD_BEFORE), 2)
    taken = closing.replace_strict(known, frequencies, default=0, return_dtype=pl.Int64)
    following = after.replace_strict(known, frequencies, default=0, return_dtype=pl.Int64)
    compound, named = _third_exceptions()
    third = (hit.str.len_chars() == 3) & ~hit.str.slice(0, 2).is_in(compound.implode())
    taken_third = (
        (taken >= THIRD_MIN_FREQUENCY) & (taken > following) & ~after.is_in(named.implode())
    )
    kept = kept & ~(third & taken_third)
    if opening:
        before = padded.str.slice(pl.col("start") + len(PAD_BEFORE) - 1, 1)
        kept = kept & ~(before + hit.str.slice(0, 1)).is_in(words)
    return frame.filter(kept)
