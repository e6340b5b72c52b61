"""Tests of the ground-truth generator (tests.corpus): labels valid, negatives invalid, seeded.

The validators here are written against the standards (stdnum for checksums,
plain structure rules otherwise) and share nothing with the corpus's own
ambiguity check or with the detectors' patterns.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable

import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from anonymize.detect.entities import Entity
from tests.corpus import NEGATIVE_KINDS, LabelledText, make_corpus, table

SEED = 20250501
N = 3000
TO_ASCII = str.maketrans("０１２３４５６７８９＋（）", "0123456789+()")


@pytest.fixture(scope="module")
def corpus() -> list[LabelledText]:
    return make_corpus(N, SEED)


def _compact(value: str) -> str:
    return re.sub(r"[\s\-()]", "", value.translate(TO_ASCII))


def _resident_id(value: str) -> bool:
    c = value.replace(" ", "")
    if re.fullmatch(r"\d{15}", c):  # first generation: upgrade to 18 (GB 11643 annex) and check
        c = c[:6] + "19" + c[6:]
        c += ric.calc_check_digit(c + "0")
    return len(c) == 18 and ric.is_valid(c)


def _phone(value: str) -> bool:
    c = re.sub(r"^(\+86|0086)", "", _compact(value))
    return bool(re.fullmatch(r"1[3-9]\d{9}|0\d{2,3}[2-8]\d{7}", c))


def _bank_card(value: str) -> bool:
    c = value.replace(" ", "")
    return c.isdigit() and 16 <= len(c) <= 19 and luhn.is_valid(c)


def _uscc(value: str) -> bool:
    return uscc.is_valid(value) and value == value.strip()


PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
VALIDATORS: dict[str, Callable[[str], bool]] = {
    Entity.CN_RESIDENT_ID: _resident_id,
    Entity.PHONE_NUMBER: _phone,
    Entity.BANK_CARD: _bank_card,
    Entity.CN_USCC: _uscc,
    Entity.EMAIL_ADDRESS: lambda v: bool(
        re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", v)
    ),
    Entity.CN_PASSPORT: lambda v: bool(re.fullmatch(r"[EG]\d{8}|E[A-HJ-NP-Z]\d{7}", v)),
    Entity.CN_LICENSE_PLATE: lambda v: bool(
        re.fullmatch(
            rf"[{PROVINCES}][A-HJ-NP-Z][· ]?"
            r"(?:[A-HJ-NP-Z0-9]{5}|[DF][A-HJ-NP-Z0-9]\d{4}|\d{5}[DF]|\d{4}学)",
            v,
        )
    ),
    Entity.CN_ADDRESS: lambda v: bool(
        re.fullmatch(r"(?:\w{2,4}省)?\w{2,3}市\w{2,3}区\w{2,8}?\d{1,3}号\w*", v)
    ),
    Entity.PERSON: lambda v: bool(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", v)),
}
# Numbers a detector might mistake for PII; no negative may pass any of them.
NUMERIC_VALIDATORS = (_resident_id, _phone, _bank_card, _uscc)


def _values(corpus: list[LabelledText], entity: str) -> list[str]:
    return [t.text[s:e] for t in corpus for s, e, k in t.spans if k == entity]


def _negatives(corpus: list[LabelledText], kind: str) -> list[str]:
    return [t.text[s:e] for t in corpus for s, e, k in t.negatives if k == kind]


def test_make_corpus_when_same_seed_then_identical() -> None:
    assert make_corpus(300, seed=11) == make_corpus(300, seed=11)


def test_make_corpus_when_different_seed_then_different_texts() -> None:
    first, second = make_corpus(50, seed=11), make_corpus(50, seed=12)
    assert sum(a.text == b.text for a, b in zip(first, second, strict=True)) < 5


def test_make_corpus_when_shorter_then_prefix_of_longer(corpus: list[LabelledText]) -> None:
    assert make_corpus(400, SEED) == corpus[:400]


def test_make_corpus_when_n_negative_then_value_error() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        make_corpus(-1, seed=1)


def test_make_corpus_when_n_zero_then_empty() -> None:
    assert make_corpus(0, seed=1) == []


@pytest.mark.parametrize("entity", list(Entity))
def test_labelled_span_when_validated_then_passes_its_standard(
    corpus: list[LabelledText], entity: Entity
) -> None:
    values = _values(corpus, entity)
    assert len(values) >= 150, f"too little support for {entity}: {len(values)}"
    bad = [v for v in values if not VALIDATORS[entity](v)]
    assert bad == []


@pytest.mark.parametrize(
    ("entity", "pattern", "at_least"),
    [
        (Entity.CN_RESIDENT_ID, r"\d{17}x", 20),  # lower-case check character
        (Entity.CN_RESIDENT_ID, r"\d{6} \d{8} \d{3}[\dX]", 30),  # grouped 6-8-4
        (Entity.CN_RESIDENT_ID, r"\d{15}", 50),  # first-generation
        (Entity.CN_RESIDENT_ID, r"\d{17}X", 20),  # upper-case X
        (Entity.PHONE_NUMBER, r"[０-９]{11}", 40),  # full-width digits
        (Entity.PHONE_NUMBER, r"\+86.*", 60),  # +86, +86 spaced, +86-
        (Entity.PHONE_NUMBER, r"0086.*", 30),
        (Entity.PHONE_NUMBER, r"1\d{2}-\d{4}-\d{4}", 30),  # dashed mobile
        (Entity.PHONE_NUMBER, r"1\d{2} \d{4} \d{4}", 30),  # spaced mobile
        (Entity.PHONE_NUMBER, r"0\d{2,3}-[2-8]\d{7}", 40),  # landline 025-8xxxxxxx
        (Entity.PHONE_NUMBER, r"[(（]0\d{2,3}[)）][2-8]\d{7}", 30),  # landline (0512)6xxxxxxx
        (Entity.BANK_CARD, r"62\d{14,17}", 150),  # UnionPay, plain
        (Entity.BANK_CARD, r"\d{4}( \d{4}){3}( \d{1,3})?", 50),  # grouped by 4
        (Entity.BANK_CARD, r"[345]\d{15}", 20),  # Visa, Mastercard, JCB
        (Entity.CN_LICENSE_PLATE, r".{2}[· ]?[DF][A-HJ-NP-Z0-9]\d{4}", 15),  # new-energy small
        (Entity.CN_LICENSE_PLATE, r".{2}[· ]?\d{5}[DF]", 5),  # new-energy large
        (Entity.CN_ADDRESS, r"\w{2,4}省.*", 100),  # with province
        (Entity.CN_ADDRESS, r"[^省]*", 100),  # without province
        (Entity.CN_PASSPORT, r"E[A-Z]\d{7}", 15),
    ],
)
def test_make_corpus_when_large_then_each_format_is_represented(
    corpus: list[LabelledText], entity: Entity, pattern: str, at_least: int
) -> None:
    hits = [v for v in _values(corpus, entity) if re.fullmatch(pattern, v)]
    assert len(hits) >= at_least


def test_make_corpus_when_large_then_every_entity_occurs_as_a_bare_cell(
    corpus: list[LabelledText],
) -> None:
    bare = Counter(t.spans[0][2] for t in corpus if t.spans and t.spans[0][:2] == (0, len(t.text)))
    assert set(bare) == {str(e) for e in Entity}


def test_labelled_span_when_sliced_then_value_has_tight_boundaries(
    corpus: list[LabelledText],
) -> None:
    for t in corpus:
        for s, e, _ in t.spans + t.negatives:
            value = t.text[s:e]
            assert value and value == value.strip()
            before, after = t.text[s - 1 : s] if s else "", t.text[e : e + 1]
            assert not (before.isascii() and before.isalnum()), (t.text, s)
            assert not (after.isascii() and after.isalnum()), (t.text, e)


def test_labelled_span_when_text_has_wide_characters_then_offsets_are_code_points(
    corpus: list[LabelledText],
) -> None:
    # Most spans follow CJK text (3 bytes in UTF-8) and some follow an emoji (2 UTF-16 units),
    # so byte or UTF-16 offsets would land elsewhere; a detector using them would miss these.
    after_cjk = sum(1 for t in corpus for s, _, _ in t.spans if s and ord(t.text[s - 1]) > 0x2E80)
    assert after_cjk > len(corpus)
    after_astral = [
        (t, s) for t in corpus for s, _, _ in t.spans if any(ord(c) > 0xFFFF for c in t.text[:s])
    ]
    assert len(after_astral) >= 100
    assert all(len(t.text[:s].encode("utf-16-le")) // 2 > s for t, s in after_astral)


def test_spans_when_sorted_then_none_overlap(corpus: list[LabelledText]) -> None:
    for t in corpus:
        marks = sorted((s, e) for s, e, _ in t.spans + t.negatives)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(marks)), t.text
        assert all(k in {str(x) for x in Entity} for _, _, k in t.spans)


@pytest.mark.parametrize("kind", NEGATIVE_KINDS)
def test_negative_when_validated_then_fails_every_numeric_rule(
    corpus: list[LabelledText], kind: str
) -> None:
    values = _negatives(corpus, kind)
    assert len(values) >= 40, f"too few {kind}: {len(values)}"
    passing = [v for v in values if any(check(v) for check in NUMERIC_VALIDATORS)]
    assert passing == []


def test_negative_when_wrong_check_id_then_only_the_check_character_is_wrong(
    corpus: list[LabelledText],
) -> None:
    for value in _negatives(corpus, "wrong_check_id"):
        assert len(value) == 18
        ric.get_birth_date(value)  # the date is real
        assert ric.calc_check_digit(value) != value[-1].upper()


def test_negative_when_impossible_date_id_then_check_is_right_and_date_is_not(
    corpus: list[LabelledText],
) -> None:
    for value in _negatives(corpus, "impossible_date_id"):
        assert len(value) == 18 and ric.calc_check_digit(value) == value[-1]
        with pytest.raises(ValidationError):
            ric.get_birth_date(value)


def test_negative_when_luhn_fail_card_then_62_prefixed_16_to_19_digits_failing_luhn(
    corpus: list[LabelledText],
) -> None:
    for value in _negatives(corpus, "luhn_fail_card"):
        digits = value.replace(" ", "")
        assert digits.startswith("62") and 16 <= len(digits) <= 19
        assert not luhn.is_valid(digits)


def test_negative_when_no_mobile_prefix_then_11_digits_starting_10_to_12(
    corpus: list[LabelledText],
) -> None:
    for value in _negatives(corpus, "no_mobile_prefix"):
        assert re.fullmatch(r"1[0-2]\d{9}", value)


def test_make_corpus_when_large_then_at_least_30_percent_of_texts_hold_a_negative(
    corpus: list[LabelledText],
) -> None:
    assert sum(bool(t.negatives) for t in corpus) >= 0.3 * len(corpus)


def test_table_when_built_then_row_i_is_text_i(corpus: list[LabelledText]) -> None:
    frame = table(corpus[:100], column="note")
    assert frame.columns == ["note"] and frame.height == 100
    assert frame["note"].to_list() == [t.text for t in corpus[:100]]
