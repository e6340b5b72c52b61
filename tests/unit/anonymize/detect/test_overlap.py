"""18-digit numbers that read as a card and an ID, and USCCs by python-stdnum: both paths.

The rule (:mod:`anonymize.detect.overlap`, declared by the card in
:mod:`anonymize.detect.entities.bank_card`): an 18-digit number that
passes Luhn and has a birth year where a resident ID has one is a card only
when a card word is the nearest card or ID word before it; otherwise it is an
ID if it passes GB 11643 and nothing if it does not (a mistyped ID). A number
without a GB/T 2260 province reads as no ID at all and is judged as a card.
"""

from __future__ import annotations

import random

import polars as pl
import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc

from anonymize.detect.analyzer import analyze_text
from anonymize.detect.entities import resident_id
from anonymize.detect.vector import scan_table
from tests.unit.anonymize.detect._detect import PATHS, values, with_uscc

CARD, ID, ORG = "BANK_CARD", "CN_RESIDENT_ID", "CN_USCC"
#: Passes Luhn and GB 11643 with a real birth date (1990-01-01).
BOTH = "622202199001011003"
#: Passes Luhn, a birth year in place, but a wrong GB 11643 check digit.
CARD_LIKE_ID = "622202199001011029"
#: Passes Luhn and the GB 11643 check with a real birth date, but 49 is no GB/T 2260 province.
NO_PROVINCE = "498304199001010114"


def test_fixtures_when_checked_then_read_as_intended() -> None:
    assert resident_id.is_resident_id(BOTH) and luhn.is_valid(BOTH)
    assert not resident_id.is_resident_id(CARD_LIKE_ID) and luhn.is_valid(CARD_LIKE_ID)
    assert ric.calc_check_digit(NO_PROVINCE) == NO_PROVINCE[-1] and luhn.is_valid(NO_PROVINCE)


CASES = [
    (f"银行卡号{BOTH}", {(CARD, BOTH)}),  # a card word decides
    (f"收款账号：{BOTH}", {(CARD, BOTH)}),  # another card word
    (f"bank card {BOTH}", {(CARD, BOTH)}),  # in English
    (f"身份证号{BOTH}", {(ID, BOTH)}),  # an ID word decides
    (f"id card {BOTH}", {(ID, BOTH)}),  # "card" inside "id card" is no card word
    (BOTH, {(ID, BOTH)}),  # no word: the ID, the more sensitive reading
    (f"银行卡已挂失，身份证号{BOTH}", {(ID, BOTH)}),  # the nearest word decides
    (f"身份证号码见附件，银行卡号{BOTH}", {(CARD, BOTH)}),  # the nearest word decides
    (f"卡号{CARD_LIKE_ID}", {(CARD, CARD_LIKE_ID)}),  # no valid ID: a card with a card word
    (CARD_LIKE_ID, set()),  # no word: a mistyped ID, reported as neither
    (f"身份证{CARD_LIKE_ID}", set()),  # an ID word, wrong check digit: nothing
    (NO_PROVINCE, {(CARD, NO_PROVINCE)}),  # no province: no ID, so a card even without a word
    (f"编号 {NO_PROVINCE}", {(CARD, NO_PROVINCE)}),  # a word that is neither: still a card
    (f"身份证号{NO_PROVINCE}", {(CARD, NO_PROVINCE)}),  # an ID word cannot make it an ID
]


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(("text", "expected"), CASES)
def test_card_or_id_when_number_reads_as_both_then_context_decides(
    path: str, text: str, expected: set[tuple[str, str]]
) -> None:
    assert values(path, text) == expected


def test_card_or_id_when_many_numbers_and_contexts_then_paths_agree() -> None:
    r = random.Random(11)
    words = ["", "银行卡号", "身份证号", "卡号：", "证件号 ", "订单号", "工资卡", "公民身份号码"]
    texts = []
    for _ in range(400):
        body = (
            f"62{r.randint(0, 9999):04d}{r.randint(1950, 2010)}0{r.randint(1, 9)}1{r.randint(0, 9)}"
        )
        body += f"{r.randint(0, 999):03d}"
        number = body + luhn.calc_check_digit(body)
        texts.append(f"{r.choice(words)}{number}，{r.choice(words)}")
    frame = scan_table(pl.DataFrame({"text": texts}), entities=[CARD, ID])
    vector = set(frame.select("row", "entity", "start", "end").iter_rows())
    presidio = {
        (row, span.entity, span.start, span.end)
        for row, text in enumerate(texts)
        for span in analyze_text(text, entities=[CARD, ID])
    }
    assert vector == presidio
    assert {e for _, e, _, _ in vector} == {CARD, ID}  # both readings occur


def test_card_or_id_when_no_province_then_paths_agree_on_a_card() -> None:
    r = random.Random(12)
    words = ["", "银行卡号", "身份证号", "编号 ", "公民身份号码"]
    # Card prefixes (a first digit 3-6 or 9, bank_card.PATTERN) that are no GB/T 2260 province.
    outside = [f"{p:02d}" for p in range(30, 100) if f"{p:02d}" not in resident_id.PROVINCES]
    outside = [p for p in outside if p[0] in "34569"]
    texts, cards = [], set()
    for row in range(300):
        body = f"{r.choice(outside)}{r.randint(0, 9999):04d}{r.randint(1950, 2010)}"
        body += f"{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 999):03d}"
        number = body + luhn.calc_check_digit(body)
        texts.append(f"{r.choice(words)}{number}")
        if not uscc.is_valid(number):  # one in 31 passes the USCC check: no card then
            cards.add(row)
    frame = scan_table(pl.DataFrame({"text": texts}), entities=[CARD, ID, ORG])
    vector = set(frame.select("row", "entity", "start", "end").iter_rows())
    presidio = {
        (row, span.entity, span.start, span.end)
        for row, text in enumerate(texts)
        for span in analyze_text(text, entities=[CARD, ID, ORG])
    }
    assert vector == presidio
    # A birth year in place makes no ID without a province: every card is found, whatever
    # the word before it, and no number is an ID.
    assert {row for row, entity, _, _ in vector if entity == CARD} == cards
    assert ID not in {entity for _, entity, _, _ in vector}
    assert len(cards) > 250


@pytest.mark.parametrize("authority", list("123456789"))
def test_uscc_when_digit_authority_valid_per_stdnum_then_found(authority: str) -> None:
    code = with_uscc(f"{authority}1320102MA1X2Y3W4")
    assert uscc.is_valid(code)
    for path in PATHS:
        assert values(path, f"统一社会信用代码{code}") == {(ORG, code)}


@pytest.mark.parametrize("authority", ["A", "N", "Y"])
def test_uscc_when_letter_authority_then_stdnum_rejects_and_neither_path_reports(
    authority: str,
) -> None:
    # GB 32100 lists A, N and Y as registration authorities; python-stdnum accepts
    # digits only in the first eight places, and detection follows python-stdnum.
    code = with_uscc(f"{authority}1320102MA1X2Y3W4")
    assert not uscc.is_valid(code)
    for path in PATHS:
        assert values(path, f"统一社会信用代码{code}") == set()
