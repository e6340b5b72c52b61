"""Unified social credit codes (统一社会信用代码), GB 32100-2015.

Eight digits (registration authority, entity type, region) and ten characters
of the 31-character alphabet, the last a MOD 31 check character
(python-stdnum). An organisation identifier, not a person's. An 18-digit
number that reads as a resident ID (a birth year in place) is not reported
as a USCC: the USCC gives way to the ID.

The first character is a digit: GB 32100 also names registration
authorities A, N and Y, but python-stdnum, the validator both paths follow,
accepts digits only in the first eight places, so such codes are not
reported (an organisation identifier: a miss releases no personal data).

References:
    GB 32100-2015: weights 3^i mod 31 over the first 17 characters of the
    31-character alphabet; the check character is ``(31 - sum mod 31) mod 31``.
"""

from __future__ import annotations

import polars as pl
from stdnum.cn import uscc

from anonymize.detect.entities.resident_id import RESIDENT_ID
from anonymize.detect.entity import EntityDefinition, GivesWay, Rule, Validator
from anonymize.detect.text import ALONE_AFTER, ALONE_BEFORE, FOUR_DIGITS, compact

NAME = "CN_USCC"

#: GB 32100: registration authority 1-9, entity type 1-5 or 9, a region code (11-82 first),
#: the organisation code and the check character (stdnum accepts digits only in the first 8).
PATTERN = r"[1-9][1-59][1-8][0-9]{5}[0-9A-HJ-NP-RTUW-Y]{10}"

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CLASS = "0-9A-HJ-NP-RTUW-Y"
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def is_uscc_form(candidate: str) -> bool:
    """A GB 32100 code with its MOD 31 check character (stdnum), whatever else it reads as.

    >>> is_uscc_form("91110000600037341L"), is_uscc_form("91110000600037341M")
    (True, False)
    """
    return bool(uscc.is_valid(compact(candidate)))


def uscc_check_ok(number: pl.Expr) -> pl.Expr:
    """GB 32100 check character, the weighted sum read as two base-34 numbers.

    The alphabet is renamed to base-36 digits of the same value (J, the 19th
    character, becomes I …), so a character's digit value is its GB 32100
    value. The weights are 3^i mod 31 and 34 = 3 mod 31, so the sum is the
    first 17 characters, reversed, read in base 34, mod 31; read in two parts
    to stay within 64 bits.
    """
    digits = number.str.replace_many(list(_ALPHABET[10:]), list(_BASE36[10:31]))
    low = digits.str.slice(0, 9).str.reverse().str.to_integer(base=34, strict=False)
    high = digits.str.slice(9, 8).str.reverse().str.to_integer(base=34, strict=False)
    total = (low % 31 + (high % 31) * (34**9 % 31)) % 31
    expected = pl.lit(_ALPHABET).str.slice((31 - total) % 31, 1)
    return (
        number.str.contains(f"^[0-9]{{8}}[{_CLASS}]{{10}}$") & (number.str.slice(17, 1) == expected)
    ).fill_null(False)


USCC = EntityDefinition(
    name=NAME,
    rules=(Rule(NAME, PATTERN, ALONE_BEFORE, ALONE_AFTER, score=0.85, requires=FOUR_DIGITS),),
    context=("信用代码", "统一社会", "税号", "纳税人识别号", "uscc"),
    validator=Validator(is_uscc_form, (uscc_check_ok,), numeric=True),
    gives_way=(GivesWay(RESIDENT_ID),),
    personal=False,
    negative_context=True,
    examples=(
        ("统一社会信用代码913200001347900002", "913200001347900002"),
        ("91110000600037341L", "91110000600037341L"),  # alone (stdnum's example)
    ),
    counter_examples=(
        "91110000600037341M",  # wrong check character
        "32058419900307261R",  # valid by GB 32100, but reads as a resident ID
    ),
)
