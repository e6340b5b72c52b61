"""Both detection paths give the same findings on seeded samples of mixed texts.

600 texts built from Faker (zh_CN, seeded) pieces: identifiers in their usual
and unusual forms, hard negatives and filler sentences, several per text.
The Presidio path (:func:`anonymize.detect.analyzer.analyze_text`, one text at a time)
and the polars path (:func:`anonymize.detect.vector.scan_table`, all texts as one
column) must report identical (entity, start, end) sets *and* scores for every
entity, PERSON included: names are decided by the same rules in both paths
(:mod:`anonymize.detect.entities.person`), not by a tagger only one of them
runs. The held-out notes of :mod:`tests.corpus` (names in places the rules were
not written for) are compared too: where the rules miss a name, both miss it.

Each entity of the registry brings its own cases (its definition's
``examples`` and ``counter_examples``): the tests below are generated from
:data:`~anonymize.detect.entities.ENTITIES`, so a new entity is compared
across both paths without a line here.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import polars as pl
import pytest
from faker import Faker

from anonymize.detect.analyzer import analyze_text
from anonymize.detect.entities import ENTITIES
from anonymize.detect.entity import EntityDefinition
from anonymize.detect.vector import scan_table
from tests.corpus import (
    BLIND_NOTES,
    HELD_OUT_NOTES,
    INDEPENDENT_NOTES,
    LAST_NOTES,
    SIXTH_NOTES,
    UNSEEN_NOTES,
    make_corpus,
)
from tests.unit.anonymize.detect._detect import with_luhn, with_uscc

SEED = 20250301
N = 600


def _texts() -> list[str]:
    fake = Faker("zh_CN")
    fake.seed_instance(SEED)
    r = random.Random(SEED)

    def digits(n: int) -> str:
        return "".join(r.choice("0123456789") for _ in range(n))

    def spaced(ssn: str) -> str:
        return f"{ssn[:6]} {ssn[6:14]} {ssn[14:]}"

    def wide(text: str) -> str:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)

    pieces: list[Callable[[], str]] = [
        lambda: f"姓名：{fake.name()}",
        lambda: f"身份证号{fake.ssn()}",
        lambda: spaced(fake.ssn()).lower(),
        lambda: f"手机{fake.phone_number()}",
        lambda: f"+86 {fake.phone_number()}",
        lambda: wide(fake.phone_number()),
        lambda: f"电话0{r.choice(['10', '25', '571'])}-{r.randint(2, 8)}{digits(7)}",
        lambda: f"邮箱 {fake.email()}",
        lambda: f"地址：{fake.address()}",
        lambda: f"车牌{fake.license_plate()}",
        lambda: f"卡号{fake.credit_card_number()}",
        lambda: " ".join([with_luhn("6222" + digits(11))[i : i + 4] for i in range(0, 16, 4)]),
        lambda: f"统一社会信用代码{with_uscc('91' + digits(6) + digits(9))}",
        lambda: f"护照E{digits(8)}",
        lambda: f"{fake.name()}先生",
        lambda: fake.name(),
        lambda: fake.sentence(),
        lambda: fake.company(),
        lambda: f"订单号{digits(18)}",
        lambda: digits(r.choice([11, 15, 16, 18, 19])),
        lambda: f"金额{digits(11)}.{digits(2)}元",
        lambda: f"运单SF{digits(13)}",
        lambda: f"热线400-{digits(3)}-{digits(4)}",
        lambda: f"{r.randint(2020, 2025)}-0{r.randint(1, 9)}-1{r.randint(0, 9)}",
    ]
    separators = ["，", "；", " ", "\n", "", "。"]
    return [
        r.choice(separators).join(r.choice(pieces)() for _ in range(r.randint(1, 4)))
        for _ in range(N)
    ]


Finding = tuple[int, str, int, int, float]


@pytest.fixture(scope="module")
def findings() -> tuple[list[str], set[Finding], set[Finding]]:
    texts = _texts()
    presidio = {
        (row, s.entity, s.start, s.end, round(s.score, 9))
        for row, text in enumerate(texts)
        for s in analyze_text(text)
    }
    frame = scan_table(pl.DataFrame({"text": texts}))
    vector = {
        (row, entity, start, end, round(score, 9))
        for row, entity, start, end, score in frame.select(
            "row", "entity", "start", "end", "score"
        ).iter_rows()
    }
    return texts, presidio, vector


def test_paths_when_seeded_sample_then_identical_findings(
    findings: tuple[list[str], set[Finding], set[Finding]],
) -> None:
    texts, presidio, vector = findings
    assert len(texts) >= 500
    assert len(vector) > len(texts)  # the sample is not trivially empty
    assert presidio == vector
    assert {f[1] for f in vector} == {
        "PERSON",
        "CN_RESIDENT_ID",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "BANK_CARD",
        "CN_PASSPORT",
        "CN_LICENSE_PLATE",
        "CN_ADDRESS",
        "CN_USCC",
    }
    assert {f[1] for f in vector} == {e.name for e in ENTITIES}  # every registered entity


def test_paths_when_seeded_sample_then_many_person_spans_compared(
    findings: tuple[list[str], set[Finding], set[Finding]],
) -> None:
    _, presidio, _ = findings
    assert sum(f[1] == "PERSON" for f in presidio) >= 150


@pytest.mark.parametrize(
    "notes",
    [HELD_OUT_NOTES, UNSEEN_NOTES, INDEPENDENT_NOTES, BLIND_NOTES, LAST_NOTES, SIXTH_NOTES],
    ids=["held_out", "unseen", "independent", "blind", "last", "sixth"],
)
def test_paths_when_held_out_notes_then_identical_person_findings(notes: tuple[str, ...]) -> None:
    corpus = make_corpus(150, SEED, notes)
    texts = [item.text for item in corpus]
    presidio = {
        (row, s.start, s.end, round(s.score, 9))
        for row, text in enumerate(texts)
        for s in analyze_text(text, entities=["PERSON"])
    }
    frame = scan_table(pl.DataFrame({"text": texts}), entities=["PERSON"])
    vector = {
        (row, start, end, round(score, 9))
        for row, start, end, score in frame.select("row", "start", "end", "score").iter_rows()
    }
    assert presidio == vector
    assert len(vector) >= 100


def test_paths_when_long_address_runs_then_identical_findings() -> None:
    # Address runs of 40 to 90 characters: the vector path searches them with a faster
    # pattern and falls back to the exact one past its length; both paths must agree.
    r = random.Random(SEED + 2)
    parts = ["江苏省", "南京市", "玄武区", "中山路", "18号", "3栋", "2单元", "501室", "东门"]
    texts = []
    for _ in range(120):
        run = "".join(r.choice(parts) for _ in range(r.randint(10, 32)))
        lead, tail = r.choice(["住址：", "地址", "寄往", ""]), r.choice(["。", "，电话", ""])
        texts.append(f"{lead}{run}{tail}")
    assert max(len(t) for t in texts) > 80
    presidio = {
        (row, s.entity, s.start, s.end, round(s.score, 9))
        for row, text in enumerate(texts)
        for s in analyze_text(text, entities=["CN_ADDRESS"])
    }
    frame = scan_table(pl.DataFrame({"text": texts}), entities=["CN_ADDRESS"])
    vector = {
        (row, entity, start, end, round(score, 9))
        for row, entity, start, end, score in frame.select(
            "row", "entity", "start", "end", "score"
        ).iter_rows()
    }
    assert vector  # addresses were found at all
    assert presidio == vector


def _both(texts: list[str]) -> tuple[set[Finding], set[Finding]]:
    """Findings of both paths on ``texts``: (row, entity, start, end, score)."""
    presidio = {
        (row, s.entity, s.start, s.end, round(s.score, 9))
        for row, text in enumerate(texts)
        for s in analyze_text(text)
    }
    frame = scan_table(pl.DataFrame({"text": texts}, schema={"text": pl.String}))
    vector = {
        (row, entity, start, end, round(score, 9))
        for row, entity, start, end, score in frame.select(
            "row", "entity", "start", "end", "score"
        ).iter_rows()
    }
    return presidio, vector


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_paths_when_entity_examples_then_identical_findings_and_entity_found(
    entity: EntityDefinition,
) -> None:
    texts = [text for text, _ in entity.examples]
    presidio, vector = _both(texts)
    assert presidio == vector
    for row, (text, span) in enumerate(entity.examples):
        found = {text[s:e] for r, name, s, e, _ in vector if r == row and name == entity.name}
        assert span in found, f"example {row} of {entity.name}"


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_paths_when_entity_counter_examples_then_identical_findings_and_entity_absent(
    entity: EntityDefinition,
) -> None:
    presidio, vector = _both(list(entity.counter_examples))
    assert presidio == vector
    assert [row for row, name, *_ in vector if name == entity.name] == []


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_registry_when_read_then_every_entity_brings_cases_for_both_outcomes(
    entity: EntityDefinition,
) -> None:
    assert len(entity.examples) >= 2
    assert len(entity.counter_examples) >= 2
    assert all(span and span in text for text, span in entity.examples)
