"""The Presidio path: a lazy, cached, thread-safe engine on a blank Chinese pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from anonymize.detect import analyzer
from anonymize.detect.entities import ENTITIES
from anonymize.detect.findings import Span
from anonymize.errors import AnonymizationError

ROOT = Path(__file__).resolve().parents[4]
PHONE = "13912345678"


def test_import_when_anonymize_imported_then_presidio_spacy_jieba_not_loaded() -> None:
    code = (
        "import sys, json, anonymize, anonymize.detect.scan, anonymize.detect.vector, "
        "anonymize.detect.analyzer; "
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert not set(json.loads(out)) & {"presidio_analyzer", "spacy", "jieba", "torch"}


def test_engine_when_called_twice_then_same_engine() -> None:
    assert analyzer.engine() is analyzer.engine()


def test_engine_when_many_threads_race_then_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []

    def build() -> object:
        built.append(object())
        return built[-1]

    monkeypatch.setattr(analyzer, "_ENGINE", None)
    monkeypatch.setattr(analyzer, "_build", build)
    barrier = threading.Barrier(8)
    results: list[object] = []

    def call() -> None:
        barrier.wait()
        results.append(analyzer.engine())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert results == built * 8


def test_engine_when_built_then_blank_chinese_pipeline_with_our_recognizers() -> None:
    engine = analyzer.engine()
    assert engine.supported_languages == ["zh"]
    assert sorted(engine.get_supported_entities("zh")) == sorted(e.name for e in ENTITIES)
    nlp = engine.nlp_engine.get_nlp("zh")
    assert nlp.pipe_names == []  # blank: no model was loaded or downloaded
    assert nlp.config["nlp"]["tokenizer"]["segmenter"] == "char"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),  # empty text
        (f"手机{PHONE}。", [Span(2, 13, "PHONE_NUMBER", 1.0)]),  # context: 0.75 + 0.35, at most 1
        (f"😀{PHONE}", [Span(1, 12, "PHONE_NUMBER", 0.75)]),  # code points, not UTF-16 units
    ],
)
def test_analyze_text_when_text_then_spans_in_code_points(text: str, expected: list[Span]) -> None:
    assert analyzer.analyze_text(text) == expected


def test_analyze_text_when_entities_and_threshold_then_filtered() -> None:
    text = f"护照E12345678，电话{PHONE}"
    assert [s.entity for s in analyzer.analyze_text(text, entities=["CN_PASSPORT"])] == [
        "CN_PASSPORT"
    ]
    assert [s.entity for s in analyzer.analyze_text(text, threshold=0.9)] == ["PHONE_NUMBER"]


def test_analyze_text_when_unknown_entity_then_error() -> None:
    with pytest.raises(AnonymizationError, match="NOPE"):
        analyzer.analyze_text("x", entities=["NOPE"])
