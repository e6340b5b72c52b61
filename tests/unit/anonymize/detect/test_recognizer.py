"""Presidio recognizers: one generic class, one instance per entity definition."""

from __future__ import annotations

import pytest
from presidio_analyzer import RecognizerResult

from anonymize.detect.entities import ENTITIES, definition
from anonymize.detect.entity import EntityDefinition
from anonymize.detect.recognizer import (
    DefinitionRecognizer,
    NearestWordContextEnhancer,
    build_registry,
)


def test_build_registry_when_built_then_one_chinese_recognizer_per_entity() -> None:
    registry = build_registry()
    assert registry.supported_languages == ["zh"]
    entities = [r.supported_entities for r in registry.recognizers]
    assert sorted(e for (e,) in entities) == sorted(e.name for e in ENTITIES)
    assert all(r.supported_language == "zh" for r in registry.recognizers)
    assert len({r.name for r in registry.recognizers}) == len(ENTITIES)  # distinct names


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_recognizer_when_built_from_a_definition_then_its_entity_and_context(
    entity: EntityDefinition,
) -> None:
    recognizer = DefinitionRecognizer(entity)
    assert recognizer.supported_entities == [entity.name]
    assert recognizer.context == list(entity.context)
    assert recognizer.definition is entity


def test_analyze_when_entity_not_asked_then_nothing() -> None:
    recognizer = DefinitionRecognizer(definition("PHONE_NUMBER"))
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
    recognizer = DefinitionRecognizer(definition("PERSON"))
    found = recognizer.analyze(text, ["PERSON"])
    assert sorted({text[r.start : r.end] for r in found}) == names
