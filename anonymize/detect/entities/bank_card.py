"""Bank card numbers: 16-19 digits, Luhn check digit (ISO/IEC 7812, python-stdnum).

Grouped by four with spaces or dashes or not grouped; the first digit is
3-6 or 9 (UnionPay 62, Visa 4, Mastercard 5, JCB 35 …, domestic 9). A valid
USCC is reported as that instead.

Card or ID: about 1.3 % of 18-digit card numbers carry a birth year where a
resident ID has one, and one in ten mistyped IDs passes Luhn. Such a number
(18 digits, Luhn, a year 1900 to now in places 7-10) is a card only when the
nearest card or ID word before it (12 characters) is a card word
(:data:`CARD_WORDS`: 银行卡, 卡号, 账号, 工资卡 …). Otherwise it is a resident
ID if it passes GB 11643 with a real birth date (the more sensitive reading;
the span masked is the same) and nothing if it does not (a mistyped ID, like
any ID with a wrong check character). The card declares it
(:class:`~anonymize.detect.entity.GivesWay`); both paths apply it.

References:
    ISO/IEC 7812-1 Annex B (Luhn): from the right, double every second digit,
    subtract 9 from results above 9; the total is a multiple of 10.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from stdnum import luhn

from anonymize.detect.entities.resident_id import RESIDENT_ID
from anonymize.detect.entities.uscc import USCC
from anonymize.detect.entity import EntityDefinition, GivesWay, Rule, Validator
from anonymize.detect.text import ALONE_AFTER, ALONE_BEFORE, FOUR_DIGITS, compact

NAME = "BANK_CARD"

PATTERN = r"[3-69][0-9]{3}(?:[ -]?[0-9]{4}){3}(?:[ -]?[0-9]{1,3})?"
CONTEXT = ("银行卡", "卡号", "账号", "账户", "工资卡", "借记卡", "信用卡", "储蓄卡", "开户", "card")
#: Words that name a card, for the numbers that read as a card and an ID alike ("card"
#: alone is left out: it ends "id card").
CARD_WORDS = (*(w for w in CONTEXT if w != "card"), "bank card", "card no")


def is_card_form(candidate: str) -> bool:
    """16-19 digits with a Luhn check digit (stdnum).

    >>> is_card_form("4111 1111 1111 1111"), is_card_form("4111 1111 1111 1112")
    (True, False)
    """
    number = compact(candidate)
    return 16 <= len(number) <= 19 and luhn.is_valid(number)


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


def _card_length(number: pl.Expr) -> pl.Expr:
    return number.str.len_chars().is_between(16, 19).fill_null(False)


BANK_CARD = EntityDefinition(
    name=NAME,
    rules=(Rule(NAME, PATTERN, ALONE_BEFORE, ALONE_AFTER, score=0.8, requires=FOUR_DIGITS),),
    context=CONTEXT,
    validator=Validator(is_card_form, (_card_length, luhn_ok), numeric=True),
    gives_way=(GivesWay(USCC), GivesWay(RESIDENT_ID, unless_words=CARD_WORDS)),
    negative_context=True,
    examples=(
        ("4111111111111111", "4111111111111111"),  # 16 digits, Luhn
        ("6222 0212 3456 7890 128", "6222 0212 3456 7890 128"),  # 19, grouped by 4
        ("6222-0212-3456-7894", "6222-0212-3456-7894"),  # grouped by dashes
        ("银行卡号622202199001011003", "622202199001011003"),  # also an ID: the card word
        ("卡号622202199001011029", "622202199001011029"),  # a mistyped ID, a card word
    ),
    counter_examples=(
        "4111111111111112",  # Luhn fails
        "622202199001011003",  # also an ID, no card word: the ID
        "622202199001011029",  # a mistyped ID without a card word: neither
        "订单号3568123412341231",  # Luhn passes by chance: an order number
        "91110000600037341L",  # a USCC
    ),
)
