"""Resident identity numbers (居民身份证号码), GB 11643-1999.

18 characters: six-digit region, eight-digit birth date, three-digit
sequence and an ISO 7064 MOD 11-2 check character (0-9 or X; lower-case x and
6-8-4 grouping by spaces accepted), checked with python-stdnum and a real
birth date between 1900 and today. 15-digit first-generation IDs (no check
digit) need a province that issued them and a real ``19yymmdd`` date; they
score lower and are reported at the default threshold only.

An 18-digit number that reads as an ID (:func:`reads_as_resident_id`: valid
or mistyped) is claimed by the ID against a bank card or a USCC; a card takes
it only where a card word is the nearest card or ID word before it (see
:mod:`anonymize.detect.entities.bank_card`).

References:
    GB 11643-1999 / ISO 7064 MOD 11-2: the check character is
    ``(1 - 2 * n) mod 11`` (10 written X), where ``n`` is the first 17 digits
    read in base 13 (13 = 2 mod 11, so this is the standard's weights
    2^(17-i) mod 11; python-stdnum computes it the same way).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from stdnum.cn import ric

from anonymize.detect.entity import EntityDefinition, Rule, Validator
from anonymize.detect.text import ALONE_AFTER, ALONE_BEFORE, FOUR_DIGITS, compact

NAME = "CN_RESIDENT_ID"

PATTERN = r"[1-9][0-9]{5}(?: ?[0-9]{8} ?[0-9]{3}[0-9Xx]| ?[0-9]{6} ?[0-9]{3})"
_FORMS = ((r"[0-9]{6} ?[0-9]{6} ?[0-9]{3}", 0.5),)  # 15-digit first generation

#: Provinces that issued first-generation (15-digit) IDs; the two-digit prefix.
PROVINCES_1985 = (
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65"
).split()
#: Province-level codes of GB/T 2260 (the first two digits of an 18-character ID): the
#: provinces above, Taiwan (71), Hong Kong (81), Macao (82) and the residence permits of
#: Taiwan residents (83). Province codes have been stable for decades; county codes change
#: and synthetic data uses retired ones, so only the province is checked.
PROVINCES = (*PROVINCES_1985, "71", "81", "82", "83")
EARLIEST_BIRTH = dt.date(1900, 1, 1)


def _birth_date(yyyymmdd: str) -> dt.date | None:
    try:
        return dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


def _real_birth(yyyymmdd: str) -> bool:
    born = _birth_date(yyyymmdd)
    return born is not None and EARLIEST_BIRTH <= born <= dt.date.today()


def is_resident_id(candidate: str) -> bool:
    """A GB 11643 citizen ID: 18 characters or a 15-digit first-generation ID.

    18 characters need a GB/T 2260 province code first (:data:`PROVINCES`), the
    ISO 7064 MOD 11-2 check character (computed by
    :func:`stdnum.cn.ric.calc_check_digit`) and a real birth date between
    1900-01-01 and today. The county code is not checked against a list: codes
    change and synthetic data uses retired ones, and a false negative lets an
    ID leave. 15 digits have no check digit: they need a province that issued
    them and a real ``19yymmdd`` birth date.

    >>> is_resident_id("11010519491231002x")
    True
    >>> is_resident_id("110105491231002")
    True
    >>> is_resident_id("110105194912310021")
    False
    >>> is_resident_id("490105194912310025")  # check character right, no province 49
    False
    """
    number = compact(candidate)
    if len(number) == 15 and number.isdigit():
        return number[:2] in PROVINCES_1985 and _real_birth("19" + number[6:12])
    if len(number) != 18 or not number[:17].isdigit():
        return False
    return (
        number[:2] in PROVINCES
        and ric.calc_check_digit(number) == number[17]
        and _real_birth(number[6:14])
    )


def reads_as_resident_id(candidate: str) -> bool:
    """18 characters, 17 digits first, a GB/T 2260 province and a birth year (1900 to now).

    Such a number is a resident ID, or one with a typo (a wrong check digit, an
    impossible day), far more often than a company code or a card: one in ten
    mistyped IDs passes Luhn and one in 31 the USCC check by chance. It is
    reported as neither. Without a province (:data:`PROVINCES`) it is no ID,
    valid or mistyped, and is judged as a card or a USCC like any other number.
    (A wider year range would also catch 18xx typos, but reject ~2 % more
    genuine 18-digit cards.)

    >>> reads_as_resident_id("622202199001011029"), reads_as_resident_id("498304199001010114")
    (True, False)
    """
    number = compact(candidate)
    if len(number) != 18 or not number[:17].isdigit() or number[:2] not in PROVINCES:
        return False
    return EARLIEST_BIRTH.year <= int(number[6:10]) <= dt.date.today().year


# --- the polars twins --------------------------------------------------------------------

_RIC_CHECK = "0123456789X"


def real_birth_expr(yyyymmdd: pl.Expr) -> pl.Expr:
    """A real date between 1900-01-01 and today (an impossible date parses to null)."""
    born = yyyymmdd.str.to_date("%Y%m%d", strict=False)
    return born.is_between(pl.lit(EARLIEST_BIRTH), pl.lit(dt.date.today())).fill_null(False)


def ric_check_ok(number: pl.Expr) -> pl.Expr:
    """18 characters whose last is the GB 11643 check character of the first 17 digits."""
    base13 = number.str.slice(0, 17).str.to_integer(base=13, strict=False)
    # (1 - 2n) mod 11 without negatives or overflow (13^17 < 2^63 < 2 * 13^17).
    expected = pl.lit(_RIC_CHECK).str.slice((12 - (2 * (base13 % 11)) % 11) % 11, 1)
    return (
        (number.str.len_chars() == 18)
        & number.str.contains("^[0-9]{17}")
        & (number.str.slice(17, 1) == expected)
    ).fill_null(False)


def _form(number: pl.Expr) -> pl.Expr:
    province = number.str.slice(0, 2)
    fifteen = number.str.contains("^[0-9]{15}$") & province.is_in(PROVINCES_1985)
    eighteen = province.is_in(PROVINCES) & ric_check_ok(number)
    return (eighteen | fifteen).fill_null(False)


def _birth(number: pl.Expr) -> pl.Expr:
    date = (
        pl.when(number.str.len_chars() == 15)
        .then(pl.lit("19") + number.str.slice(6, 6))
        .otherwise(number.str.slice(6, 8))
    )
    return real_birth_expr(date)


def reads_as_resident_id_expr(number: pl.Expr) -> pl.Expr:
    """18 characters, 17 digits first, a GB/T 2260 province and a birth year (1900 to now)
    at an ID's place (as :func:`reads_as_resident_id`)."""
    year = number.str.slice(6, 4).str.to_integer(strict=False)
    return (
        (number.str.len_chars() == 18)
        & number.str.contains("^[0-9]{17}")
        & number.str.slice(0, 2).is_in(PROVINCES)
        & year.is_between(EARLIEST_BIRTH.year, dt.date.today().year)
    ).fill_null(False)


RESIDENT_ID = EntityDefinition(
    name=NAME,
    rules=(
        Rule(
            NAME,
            PATTERN,
            ALONE_BEFORE,
            ALONE_AFTER,
            score=0.9,
            forms=_FORMS,
            requires=FOUR_DIGITS,
        ),
    ),
    context=("身份证", "证件号", "身份号码", "公民身份", "id card", "idcard"),
    validator=Validator(is_resident_id, (_form, _birth), numeric=True),
    claim=Validator(reads_as_resident_id, (reads_as_resident_id_expr,), numeric=True),
    negative_context=True,
    examples=(
        ("11010519491231002X", "11010519491231002X"),  # alone, check character X
        ("110105 19491231 002x", "110105 19491231 002x"),  # 6-8-4 grouping, lower-case x
        ("身份证号码320584199003072617。", "320584199003072617"),  # context, full stop
        ("旧身份证110105491231002", "110105491231002"),  # 15-digit first generation
        ("622202199001011003", "622202199001011003"),  # also a card: no card word, an ID
    ),
    counter_examples=(
        "身份证号320584199003072618",  # wrong check digit
        "ID11010519491231002X",  # glued to letters: part of a longer code
        "202501011234567890",  # an 18-digit order number
        "银行卡号622202199001011003",  # also an ID: the card word makes it a card
    ),
)
