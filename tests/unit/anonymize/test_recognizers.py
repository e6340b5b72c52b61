"""Presidio recognizers: one per entity and file, context words, jieba for names."""

from __future__ import annotations

import importlib

import pytest
from presidio_analyzer import RecognizerResult

from anonymize.context import CONTEXT
from anonymize.entities import Entity
from anonymize.recognizers import (
    RECOGNIZERS,
    NearestWordContextEnhancer,
    PersonRecognizer,
    build_registry,
)

FILES = [
    "resident_id",
    "phone",
    "email",
    "bank_card",
    "passport",
    "license_plate",
    "address",
    "uscc",
    "person",
]


def test_build_registry_when_built_then_one_chinese_recognizer_per_entity() -> None:
    registry = build_registry()
    assert registry.supported_languages == ["zh"]
    entities = [r.supported_entities for r in registry.recognizers]
    assert sorted(e for (e,) in entities) == sorted(e.value for e in Entity)
    assert all(r.supported_language == "zh" for r in registry.recognizers)


@pytest.mark.parametrize("module", FILES)
def test_recognizers_when_module_imported_then_one_recognizer_with_shared_context(
    module: str,
) -> None:
    loaded = importlib.import_module(f"anonymize.recognizers.{module}")
    classes = [c for c in RECOGNIZERS if c.__module__ == loaded.__name__]
    assert len(classes) == 1
    recognizer = classes[0]()
    assert recognizer.context == list(CONTEXT[recognizer.ENTITY])


def test_analyze_when_entity_not_asked_then_nothing() -> None:
    recognizer = next(c for c in RECOGNIZERS if c.ENTITY is Entity.PHONE_NUMBER)()
    assert recognizer.analyze("13912345678", ["EMAIL_ADDRESS"]) == []
    assert [r.entity_type for r in recognizer.analyze("13912345678", ["PHONE_NUMBER"])] == [
        "PHONE_NUMBER"
    ]


def test_enhancer_when_context_word_near_then_score_raised_and_marked() -> None:
    raw = [RecognizerResult("PHONE_NUMBER", 2, 13, 0.75, recognition_metadata={})]
    (result,) = NearestWordContextEnhancer().enhance_using_context(
        "手机13912345678", raw, nlp_artifacts=None, recognizers=[]
    )
    assert result.score == pytest.approx(1.0)
    assert result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY]
    assert raw[0].score == 0.75  # the input is not changed


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("唐建华", ["唐建华"]),  # a whole cell
        ("我和李欣去了南京", ["李欣"]),  # after a particle, before a particle
        ("地址：上海市普陀区长寿路18号", []),  # 普陀 in an address: no name rule reads it
        ("王先生", []),  # a surname and a title: no given name
    ],
)
def test_person_when_shared_rules_then_names_without_place_names(
    text: str, names: list[str]
) -> None:
    recognizer = PersonRecognizer()
    found = recognizer.analyze(text, ["PERSON"])
    assert sorted({text[r.start : r.end] for r in found}) == names
