"""Checksums and date checks as polars expressions: the vector twins of the stdnum validators.

Not API. Each check mirrors a scalar validator of :mod:`anonymize.patterns`
(which calls python-stdnum); the unit tests compare the two on many generated
values. A check is a sequence of stages, cheapest and most selective first, so
that the costly ones run only on the candidates still standing; no Python runs
per cell.

References:
    GB 11643-1999 / ISO 7064 MOD 11-2: the check character is
    ``(1 - 2 * n) mod 11`` (10 written X), where ``n`` is the first 17 digits
    read in base 13 (13 = 2 mod 11, so this is the standard's weights
    2^(17-i) mod 11; python-stdnum computes it the same way).
    GB 32100-2015: weights 3^i mod 31 over the first 17 characters of the
    31-character alphabet; the check character is ``(31 - sum mod 31) mod 31``.
    ISO/IEC 7812-1 Annex B (Luhn): from the right, double every second digit,
    subtract 9 from results above 9; the total is a multiple of 10.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

import numpy as np
import polars as pl

from anonymize._names import (
    COMPOUND_SURNAMES,
    FOLLOW_WIDTH,
    FOLLOW_WORDS,
    GLUED_WORDS,
    ORG_WORDS,
    THIRD_MIN_FREQUENCY,
    common_words,
    following_words,
    straddling_words,
    two_character_frequencies,
)
from anonymize.context import CARD_WORDS, CONTEXT_WINDOW, card_or_id_regex
from anonymize.patterns import (
    ADDRESS_LEADS,
    ADDRESS_LEVELS,
    ADDRESS_NUMBER,
    ADDRESS_ROAD,
    ADDRESS_STAIRS,
    ADDRESS_UP_TO_END,
    EARLIEST_BIRTH,
    PAD_BEFORE,
    PROVINCES,
    PROVINCES_1985,
    Check,
)

Stage = Callable[[pl.Expr], pl.Expr]

_RIC_CHECK = "0123456789X"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_CLASS = "0-9A-HJ-NP-RTUW-Y"
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def compact(span: pl.Expr) -> pl.Expr:
    """Without spaces and dashes, upper-case (as :func:`anonymize.patterns.compact`).

    Spans of the numeric rules hold only digits, ASCII letters, spaces and dashes.
    """
    return span.str.replace_all("[ -]", "").str.to_uppercase()


def _real_birth(yyyymmdd: pl.Expr) -> pl.Expr:
    """A real date between 1900-01-01 and today (an impossible date parses to null)."""
    born = yyyymmdd.str.to_date("%Y%m%d", strict=False)
    return born.is_between(pl.lit(EARLIEST_BIRTH), pl.lit(dt.date.today())).fill_null(False)


def _ric_check_ok(number: pl.Expr) -> pl.Expr:
    """18 characters whose last is the GB 11643 check character of the first 17 digits."""
    base13 = number.str.slice(0, 17).str.to_integer(base=13, strict=False)
    # (1 - 2n) mod 11 without negatives or overflow (13^17 < 2^63 < 2 * 13^17).
    expected = pl.lit(_RIC_CHECK).str.slice((12 - (2 * (base13 % 11)) % 11) % 11, 1)
    return (
        (number.str.len_chars() == 18)
        & number.str.contains("^[0-9]{17}")
        & (number.str.slice(17, 1) == expected)
    ).fill_null(False)


def _resident_id_form(number: pl.Expr) -> pl.Expr:
    province = number.str.slice(0, 2)
    fifteen = number.str.contains("^[0-9]{15}$") & province.is_in(PROVINCES_1985)
    eighteen = province.is_in(PROVINCES) & _ric_check_ok(number)
    return (eighteen | fifteen).fill_null(False)


def _resident_id_birth(number: pl.Expr) -> pl.Expr:
    date = (
        pl.when(number.str.len_chars() == 15)
        .then(pl.lit("19") + number.str.slice(6, 6))
        .otherwise(number.str.slice(6, 8))
    )
    return _real_birth(date)


def reads_as_resident_id(number: pl.Expr) -> pl.Expr:
    """18 characters, 17 digits first, a GB/T 2260 province and a birth year (1900 to now)
    at an ID's place (as :func:`anonymize.patterns.reads_as_resident_id`)."""
    year = number.str.slice(6, 4).str.to_integer(strict=False)
    return (
        (number.str.len_chars() == 18)
        & number.str.contains("^[0-9]{17}")
        & number.str.slice(0, 2).is_in(PROVINCES)
        & year.is_between(EARLIEST_BIRTH.year, dt.date.today().year)
    ).fill_null(False)


def _uscc_check_ok(number: pl.Expr) -> pl.Expr:
    """GB 32100 check character, the weighted sum read as two base-34 numbers.

    The alphabet is renamed to base-36 digits of the same value (J, the 19th
    character, becomes I …), so a character's digit value is its GB 32100
    value. The weights are 3^i mod 31 and 34 = 3 mod 31, so the sum is the
    first 17 characters, reversed, read in base 34, mod 31; read in two parts
    to stay within 64 bits.
    """
    digits = number.str.replace_many(list(_USCC_ALPHABET[10:]), list(_BASE36[10:31]))
    low = digits.str.slice(0, 9).str.reverse().str.to_integer(base=34, strict=False)
    high = digits.str.slice(9, 8).str.reverse().str.to_integer(base=34, strict=False)
    total = (low % 31 + (high % 31) * (34**9 % 31)) % 31
    expected = pl.lit(_USCC_ALPHABET).str.slice((31 - total) % 31, 1)
    return (
        number.str.contains(f"^[0-9]{{8}}[{_USCC_CLASS}]{{10}}$")
        & (number.str.slice(17, 1) == expected)
    ).fill_null(False)


#: Luhn's doubled digit: 2d, less 9 above 9.
_LUHN_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.uint8)


def _luhn_batch(digits: pl.Series) -> pl.Series:
    """Luhn over a batch of digit strings (null: False), as one numpy matrix of digits.

    python-stdnum reads one number at a time and polars has no per-character
    arithmetic short of a list per cell (ten times slower): the batch is padded
    with zeros on the left (no change to the sum) to one width and read as a
    byte matrix, so a column of any length costs a few numpy operations.
    """
    width = int(digits.str.len_bytes().max() or 0)  # type: ignore[arg-type]
    if not width:
        return pl.Series(digits.name, [False] * digits.len(), dtype=pl.Boolean)
    text = digits.fill_null("").str.zfill(width).str.join("").item()
    matrix = np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(-1, width) - ord("0")
    backwards = matrix[:, ::-1]  # one byte a digit; only the sums are wider
    kept = backwards[:, 0::2].sum(axis=1, dtype=np.int64)
    doubled = _LUHN_DOUBLED[backwards[:, 1::2]].sum(axis=1, dtype=np.int64)
    total = kept + doubled
    return pl.Series(digits.name, total % 10 == 0) & digits.is_not_null()


def luhn_ok(digits: pl.Expr) -> pl.Expr:
    """Luhn (ISO/IEC 7812-1 Annex B) over a string of digits."""
    number = pl.when(digits.str.contains("^[0-9]+$")).then(digits)
    return number.map_batches(_luhn_batch, return_dtype=pl.Boolean).fill_null(False)


def _card_form(number: pl.Expr) -> pl.Expr:
    return number.str.len_chars().is_between(16, 19).fill_null(False)


def _not_uscc(number: pl.Expr) -> pl.Expr:
    """No USCC (:func:`anonymize.patterns.is_uscc`: a number that reads as an ID never is one)."""
    return (number.str.len_chars() != 18) | reads_as_resident_id(number) | ~_uscc_check_ok(number)


@functools.cache
def _common_words() -> pl.Series:
    return pl.Series("words", sorted(common_words()), dtype=pl.String)


def person_ok(span: pl.Expr) -> pl.Expr:
    """No common word and not opening with one (see :func:`anonymize.patterns.is_person_name`)."""
    words = _common_words().implode()
    opening = span.str.slice(0, 2)
    return ~span.is_in(words) & (opening.is_in(COMPOUND_SURNAMES) | ~opening.is_in(words))


def address_ok(span: pl.Expr) -> pl.Expr:
    """A road and two levels or a house number (see :func:`anonymize.patterns.is_address`)."""
    return span.str.contains(ADDRESS_ROAD) & (
        span.str.contains(ADDRESS_LEVELS) | span.str.contains(ADDRESS_NUMBER)
    )


def trim_address(frame: pl.DataFrame) -> pl.DataFrame:
    """Address spans (``padded``, ``start``, ``end``, ``hit``) without a trailing 楼 that is
    upstairs or downstairs, then without a word that leads to them (as
    :func:`anonymize.patterns.address_cut` and :func:`anonymize.patterns.address_lead`)."""
    if not frame.height:
        return frame
    last, after, building = ADDRESS_STAIRS
    hit, start = pl.col("hit"), pl.col("start")
    following = pl.col("padded").str.slice(pl.col("end") + len(PAD_BEFORE), 1)
    stairs = (
        hit.str.ends_with(last)
        & following.is_in(pl.Series(list(after), dtype=pl.String).implode())
        & ~hit.str.slice(-2, 1).is_in(pl.Series(list(building), dtype=pl.String).implode())
        & (hit.str.len_chars() > 1)
    )
    shorter = hit.str.slice(0, hit.str.len_chars() - 1).str.extract(ADDRESS_UP_TO_END, 1)
    cut = pl.when(stairs).then(shorter.fill_null("")).otherwise(hit)
    frame = frame.with_columns(cut.alias("hit"))
    frame = frame.with_columns((start + hit.str.len_chars()).alias("end"))
    return _trim_address_lead(frame)


def _trim_address_lead(frame: pl.DataFrame) -> pl.DataFrame:
    """Address spans without a word that leads to them (the first matching lead counts)."""
    hit, start = pl.col("hit"), pl.col("start")
    before = pl.col("padded").str.slice(start + len(PAD_BEFORE) - 1, 1)
    width: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for previous, lead in reversed(ADDRESS_LEADS):
        opening = hit.str.extract(lead, 1)
        opens = opening.is_not_null()
        if previous:
            opens = opens & before.is_in(pl.Series(list(previous), dtype=pl.String).implode())
        cut = opening.str.len_chars().cast(pl.Int64)
        width = pl.when(opens).then(cut).otherwise(width)
    return frame.with_columns((start + width).alias("start"), hit.str.slice(width).alias("hit"))


STAGES: dict[Check, tuple[Stage, ...]] = {
    "resident_id": (_resident_id_form, _resident_id_birth),
    "bank_card": (_card_form, luhn_ok, _not_uscc),
    "uscc": (lambda s: ~reads_as_resident_id(s), _uscc_check_ok),
    "person": (person_ok,),
    "address": (address_ok,),
}


def _window(padded: pl.Expr, start: pl.Expr) -> pl.Expr:
    """The lower-cased context window before ``start`` (an offset into the cell)."""
    opening = (start - CONTEXT_WINDOW).clip(lower_bound=0)
    return padded.str.slice(opening + len(PAD_BEFORE), start - opening).str.to_lowercase()


def card_word_nearest(padded: pl.Expr, start: pl.Expr) -> pl.Expr:
    """Whether a card word is the nearest card or ID word before ``start`` in the padded text.

    The twin of :func:`anonymize.context.card_word_nearest`; ``start`` is an
    offset into the cell (the padding is skipped here).
    """
    window = _window(padded, start)
    return window.str.extract(card_or_id_regex(), 1).is_in(CARD_WORDS).fill_null(False)


def _card_word_before(padded: pl.Expr, start: pl.Expr) -> pl.Expr:
    """Whether any card word is in the window: what :func:`card_word_nearest` needs first.

    A plain search, many times cheaper than the capture that finds the nearest word.
    """
    return _window(padded, start).str.contains("|".join(CARD_WORDS)).fill_null(False)


def _filtered(frame: pl.DataFrame, *stages: pl.Expr) -> pl.DataFrame:
    """``frame`` filtered by each predicate in turn, stopping once no row is left."""
    for stage in stages:
        if not frame.height:
            break
        frame = frame.filter(stage)
    return frame


def _card_and_id(number: pl.Expr) -> pl.Expr:
    """18 digits passing Luhn that read as an ID (``patterns.reads_as_card_and_id``)."""
    digits = pl.when(number.str.contains("^[0-9]{18}$")).then(number)  # else null: no X to cast
    return reads_as_resident_id(number) & luhn_ok(digits)


def keep_in_context(frame: pl.DataFrame, check: Check | None) -> pl.DataFrame:
    """Rows of ``frame`` (``padded``, ``start``, ``hit``; already valid) that their context keeps.

    The card or ID rule of :func:`anonymize.patterns.is_bank_card` and
    :func:`anonymize.patterns.is_resident_id_in`: an 18-digit number that reads
    as both is a card only where a card word is the nearest card or ID word.
    Cheapest first: an ID is only in question after a card word (none at a
    cell's start), and only then is its Luhn digit read; a card only when it
    reads as an ID.
    """
    if check not in ("resident_id", "bank_card") or not frame.height:
        return frame
    number = compact(pl.col("hit"))
    padded, start = pl.col("padded"), pl.col("start")
    # No card word before a cell's start: only spans inside a cell are read in context.
    inside = start > 0
    card = (_card_word_before(padded, start), card_word_nearest(padded, start))
    if check == "resident_id":
        doubt = inside & number.str.contains("^[0-9]{18}$")
        claimed = _filtered(frame, doubt, card[0], _card_and_id(number), card[1])
        if not claimed.height:
            return frame
        return frame.join(claimed.select("row", "start"), on=["row", "start"], how="anti")
    # A card that reads as an ID is in doubt; one pass decides which rows are, and a doubtful
    # one at a cell's start (no card word before it) is dropped without reading its window.
    flags = frame.select(reads_as_resident_id(number).alias("doubt"), inside.alias("inside"))
    sure, read = ~flags["doubt"], flags["doubt"] & flags["inside"]
    if sure.all():
        return frame
    return pl.concat([frame.filter(sure), _filtered(frame.filter(read), *card)])


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
    :func:`anonymize.patterns.straddled`)."""
    if not bounded or not frame.height:
        return frame
    padded, hit = pl.col("padded"), pl.col("hit")
    words = _straddling_words().implode()
    closing = hit.str.slice(-1) + padded.str.slice(pl.col("end") + len(PAD_BEFORE), 1)
    kept = ~closing.is_in(words)
    # A three-character name's last character taken by a word (as patterns.third_taken).
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


#: Checks whose stages read the compacted number (:func:`compact`), not the raw span.
NUMERIC: frozenset[Check] = frozenset({"resident_id", "bank_card", "uscc"})


def valid(check: Check | None, span: pl.Expr) -> pl.Expr:
    """All stages of ``check`` as one predicate (True when there is no check)."""
    if check is None:
        return pl.lit(True)
    value = compact(span) if check in NUMERIC else span
    return pl.all_horizontal(stage(value) for stage in STAGES[check])


def keep_valid(frame: pl.DataFrame, check: Check | None, column: str = "hit") -> pl.DataFrame:
    """The rows of ``frame`` whose ``column`` passes ``check``, stage by stage."""
    if check is None:
        return frame
    value = pl.col(column)
    if check in NUMERIC:
        frame = frame.with_columns(compact(value).alias("_number"))
        value = pl.col("_number")
    for stage in STAGES[check]:
        if not frame.height:
            break
        frame = frame.filter(stage(value))
    return frame.drop("_number", strict=False)
