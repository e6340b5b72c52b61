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

import polars as pl

from anonymize._names import COMPOUND_SURNAMES, FOLLOW_WIDTH, common_words
from anonymize.context import CARD_WORDS, CONTEXT_WINDOW, card_or_id_regex
from anonymize.patterns import (
    ADDRESS_LEVELS,
    ADDRESS_NUMBER,
    ADDRESS_ROAD,
    EARLIEST_BIRTH,
    PAD_BEFORE,
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
    fifteen = number.str.contains("^[0-9]{15}$") & number.str.slice(0, 2).is_in(PROVINCES_1985)
    return (_ric_check_ok(number) | fifteen).fill_null(False)


def _resident_id_birth(number: pl.Expr) -> pl.Expr:
    date = (
        pl.when(number.str.len_chars() == 15)
        .then(pl.lit("19") + number.str.slice(6, 6))
        .otherwise(number.str.slice(6, 8))
    )
    return _real_birth(date)


def reads_as_resident_id(number: pl.Expr) -> pl.Expr:
    """18 characters, 17 digits first and a birth year (1900 to now) at an ID's place."""
    year = number.str.slice(6, 4).str.to_integer(strict=False)
    return (
        (number.str.len_chars() == 18)
        & number.str.contains("^[0-9]{17}")
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


def luhn_ok(digits: pl.Expr) -> pl.Expr:
    """Luhn (ISO/IEC 7812-1 Annex B) over a string of digits."""
    backwards = digits.str.reverse().str.split("").list.eval(pl.element().cast(pl.Int32))
    doubled = pl.element() * 2 - 9 * (pl.element() >= 5).cast(pl.Int32)
    odd = pl.int_range(pl.len()) % 2 == 1
    total = backwards.list.eval(pl.when(odd).then(doubled).otherwise(pl.element())).list.sum()
    return (digits.str.contains("^[0-9]+$") & (total % 10 == 0)).fill_null(False)


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


STAGES: dict[Check, tuple[Stage, ...]] = {
    "resident_id": (_resident_id_form, _resident_id_birth),
    "bank_card": (_card_form, luhn_ok, _not_uscc),
    "uscc": (lambda s: ~reads_as_resident_id(s), _uscc_check_ok),
    "person": (person_ok,),
    "address": (address_ok,),
}


def card_word_nearest(padded: pl.Expr, start: pl.Expr) -> pl.Expr:
    """Whether a card word is the nearest card or ID word before ``start`` in the padded text.

    The twin of :func:`anonymize.context.card_word_nearest`; ``start`` is an
    offset into the cell (the padding is skipped here).
    """
    opening = (start - CONTEXT_WINDOW).clip(lower_bound=0)
    window = padded.str.slice(opening + len(PAD_BEFORE), start - opening).str.to_lowercase()
    return window.str.extract(card_or_id_regex(), 1).is_in(CARD_WORDS).fill_null(False)


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
    card = card_word_nearest(pl.col("padded"), pl.col("start"))
    if check == "resident_id":
        doubt = (pl.col("start") > 0) & number.str.contains("^[0-9]{18}$")
        asked = frame.filter(doubt)
        claimed = asked.filter(card & _card_and_id(number))
        return frame.join(claimed.select("row", "start"), on=["row", "start"], how="anti")
    doubt = reads_as_resident_id(number)
    return pl.concat([frame.filter(~doubt), frame.filter(doubt).filter(card)])


def keep_followed(frame: pl.DataFrame, follow: str | None) -> pl.DataFrame:
    """Rows of ``frame`` (``padded``, ``end``) whose text after the span matches ``follow``."""
    if follow is None or not frame.height:
        return frame
    after = pl.col("padded").str.slice(pl.col("end") + len(PAD_BEFORE), FOLLOW_WIDTH)
    return frame.filter(after.str.contains(f"^(?:{follow})"))


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
