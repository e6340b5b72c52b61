"""The vectorized checks agree with the scalar validators (python-stdnum) on many values.

Each entity's validator has a polars twin (its stages) and
:mod:`anonymize.detect._checks` adds the yields without words (a card is no
USCC, a USCC reads as no ID); the scalar side is the definition's validator
and :func:`anonymize.detect.overlap.claims`. Both run here on thousands of
seeded values: valid numbers, numbers one character off, and noise.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import polars as pl
import pytest
from stdnum import luhn
from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc

from anonymize.detect import _checks as vc
from anonymize.detect import overlap
from anonymize.detect.entities import bank_card, definition, resident_id, uscc
from anonymize.detect.entities.address import ADDRESS, is_address
from anonymize.detect.entities.bank_card import BANK_CARD
from anonymize.detect.entities.person import PERSON, is_person_name
from anonymize.detect.entities.resident_id import RESIDENT_ID
from anonymize.detect.entities.uscc import USCC
from anonymize.detect.entity import EntityDefinition
from tests.unit.anonymize.detect._detect import with_luhn, with_ric, with_uscc


def is_card_number(candidate: str) -> bool:
    """A card's validator and its yield to a USCC, as one scalar check."""
    return BANK_CARD.validator is not None and (
        BANK_CARD.validator.scalar(candidate) and not overlap.claims(USCC, candidate)
    )


def is_uscc(candidate: str) -> bool:
    """A USCC's validator and its yield to an ID, as one scalar check."""
    return uscc.is_uscc_form(candidate) and not overlap.claims(RESIDENT_ID, candidate)


SEED = 20250301
N = 3000
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


def _resident_ids(r: random.Random) -> list[str]:
    out = []
    for _ in range(N):
        day = f"{r.randint(1890, 2030)}{r.randint(0, 13):02d}{r.randint(0, 32):02d}"
        body = f"{r.randint(1, 8)}{_digits(r, 5)}{day}{_digits(r, 3)}"
        good = with_ric(body)
        out += [
            good,  # valid check character (date may still be impossible)
            good[:17] + r.choice("0123456789X"),  # any check character
            good.lower(),  # lower-case x
            f"{good[:6]} {good[6:14]} {good[14:]}",  # 6-8-4 grouping
            good[:6] + good[8:17],  # 15 digits (first generation)
        ]
    return [*out, "", "X" * 18, "1" * 17, "12345678901234567Z"]


def _usccs(r: random.Random) -> list[str]:
    out = []
    for _ in range(N):
        body = _digits(r, 8) + "".join(r.choice(USCC_ALPHABET) for _ in range(9))
        good = with_uscc(body)
        out += [good, good[:17] + r.choice(USCC_ALPHABET), with_ric(_digits(r, 17))]
    return [*out, "", "91110000600037341I", "A1110000600037341L"]


def _cards(r: random.Random) -> list[str]:
    out = []
    for _ in range(N):
        body = r.choice("3456789") + _digits(r, r.randint(14, 17))
        good = with_luhn(body)
        out += [good, body + r.choice("0123456789"), " ".join([good[:4], good[4:8], good[8:]])]
        out.append(with_luhn(with_ric(f"32058419{_digits(r, 9)}")[:17]))  # ID-shaped, Luhn ok
    return [*out, "", "0" * 16, "6" * 20]


@pytest.mark.parametrize(
    ("check", "make", "scalar"),
    [
        (RESIDENT_ID, _resident_ids, resident_id.is_resident_id),  # GB 11643, 15 and 18 digits
        (USCC, _usccs, is_uscc),  # GB 32100
        (BANK_CARD, _cards, is_card_number),  # Luhn, no USCC (IDs: in context)
    ],
    ids=lambda p: p.name if isinstance(p, EntityDefinition) else None,
)
def test_valid_when_many_generated_values_then_agrees_with_scalar_validator(
    check: EntityDefinition,
    make: Callable[[random.Random], list[str]],
    scalar: Callable[[str], bool],
) -> None:
    candidates = make(random.Random(SEED))
    vector = pl.DataFrame({"v": candidates}).select(vc.valid(check, pl.col("v"))).to_series()
    expected = [scalar(c) for c in candidates]
    pairs = zip(vector.to_list(), expected, strict=True)
    disagree = [i for i, (a, b) in enumerate(pairs) if a != b]
    assert disagree == []
    assert 0.05 < sum(expected) / len(expected) < 0.95  # both outcomes are exercised


def test_uscc_check_when_compared_with_stdnum_then_identical() -> None:
    r = random.Random(SEED)
    codes = [_digits(r, 8) + "".join(r.choice(USCC_ALPHABET) for _ in range(10)) for _ in range(N)]
    codes += [with_uscc(c[:17]) for c in codes]
    got = pl.DataFrame({"v": codes}).select(uscc.uscc_check_ok(pl.col("v"))).to_series()
    assert got.to_list() == [stdnum_uscc.is_valid(c) for c in codes]


def test_resident_id_checksum_when_compared_with_stdnum_then_identical() -> None:
    r = random.Random(SEED)
    numbers = [_digits(r, 17) + r.choice("0123456789X") for _ in range(N)]
    got = pl.DataFrame({"v": numbers}).select(resident_id.ric_check_ok(pl.col("v"))).to_series()
    assert got.to_list() == [ric.calc_check_digit(n) == n[17] for n in numbers]


def test_luhn_ok_when_compared_with_stdnum_then_identical() -> None:
    r = random.Random(SEED)
    numbers = [_digits(r, r.randint(12, 19)) for _ in range(N)]
    numbers += [with_luhn(n[:-1]) for n in numbers]
    got = pl.DataFrame({"v": numbers}).select(bank_card.luhn_ok(pl.col("v"))).to_series()
    assert got.to_list() == [luhn.is_valid(n) for n in numbers]


@pytest.mark.parametrize(
    ("check", "scalar", "words"),
    [
        (
            PERSON,
            is_person_name,  # names and the words that look like them
            [
                "张伟",
                "李欣",
                "欧阳娜娜",
                "高中",
                "文化",
                "江苏",
                "谢谢",
                "信用代",
                "车牌云",
                "王府井",
            ],
        ),
        (
            ADDRESS,
            is_address,  # addresses and near misses
            [
                "江苏省南京市中山路",
                "中山路18号",
                "南京市中山路",
                "城市道路建设",
                "人民南路四段366号",
                "江苏省南京市",
                "解放北路",
            ],
        ),
    ],
)
def test_valid_when_word_checks_then_agrees_with_scalar_validator(
    check: EntityDefinition, scalar: Callable[[str], bool], words: list[str]
) -> None:
    got = pl.DataFrame({"v": words}).select(vc.valid(check, pl.col("v"))).to_series()
    assert got.to_list() == [scalar(w) for w in words]


def test_keep_valid_when_stages_then_same_rows_as_one_predicate() -> None:
    candidates = _cards(random.Random(SEED + 1))
    frame = pl.DataFrame({"hit": candidates})
    staged = vc.keep_valid(frame, BANK_CARD)["hit"].to_list()
    assert staged == [c for c in candidates if is_card_number(c)]
    # An entity without a validator or a yield keeps every row.
    assert vc.keep_valid(frame, definition("PHONE_NUMBER")).height == frame.height


def test_luhn_ok_when_any_length_null_or_not_digits_then_agrees_with_stdnum() -> None:
    # The batched Luhn check: every length from 1 to 40, nulls and non-digit strings.
    r = random.Random(SEED + 1)
    numbers: list[str | None] = []
    for length in range(1, 41):
        for _ in range(25):
            digits = _digits(r, length)
            numbers += [digits, with_luhn(digits[:-1]) if length > 1 else digits]
    numbers += [None, "", "12a4", "４５６７", "1234 5678"]
    got = pl.DataFrame({"v": numbers}, schema={"v": pl.String}).select(
        bank_card.luhn_ok(pl.col("v"))
    )
    expected = [n is not None and n.isascii() and n.isdigit() and luhn.is_valid(n) for n in numbers]
    assert got.to_series().to_list() == expected
