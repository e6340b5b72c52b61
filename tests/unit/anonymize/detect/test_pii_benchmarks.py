"""The PII benchmarks run end to end on tiny inputs (no timing is asserted).

``benchmarks/`` is not a package: the scripts are loaded from their files, as
``python benchmarks/pii_scan.py`` runs them.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.corpus import marked_notes

BENCHMARKS = Path(__file__).resolve().parents[4] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pii_scan() -> ModuleType:
    return _load("pii_scan")


@pytest.fixture(scope="module")
def pii_accuracy() -> ModuleType:
    return _load("pii_accuracy")


def test_make_notes_when_few_asked_then_distinct_and_at_least_150_characters(
    pii_scan: ModuleType,
) -> None:
    notes = pii_scan.make_notes(6, seed=3)
    assert len(notes) == len(set(notes)) == 6
    assert min(len(n) for n in notes) >= pii_scan.NOTE_MIN_CHARS


def test_notes_speed_when_tiny_input_then_every_configuration_timed_and_stages_agree(
    pii_scan: ModuleType,
) -> None:
    notes = pii_scan.make_notes(4, seed=3)
    timings, agree = pii_scan.notes_speed(notes, repeat=1, presidio_n=1)
    assert [t.count for t in timings] == [4, 4, 4, 4, 4, 1, 1]
    assert all(t.best > 0 for t in timings)
    assert agree  # the tagger stage on the rules' findings is the end-to-end scan
    assert pii_scan.notes_markdown(timings).count("\n") == len(timings) + 1


def test_table_section_when_tiny_table_then_tagger_sample_is_stated(
    pii_scan: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(rows=40, sample=4, seed=1, repeat=1, tagger_rows=10)
    pii_scan.table_section(args)
    out = capsys.readouterr().out
    assert "first 10 rows only" in out
    assert "| PERSON |" in out
    assert "classify first: findings EQUAL the full scan's" in out
    assert "presidio-structured was given our Presidio engine" in out


def test_rules_vs_fused_when_marked_notes_then_names_and_addresses_scored_four_ways(
    pii_accuracy: ModuleType,
) -> None:
    scores, agree = pii_accuracy.rules_vs_fused(marked_notes()[:3], pii_accuracy.MARKED)
    assert set(scores["entity"]) == pii_accuracy.MARKED
    assert scores["path"].unique(maintain_order=True).to_list() == [
        label for _, _, label in pii_accuracy.CONFIGS
    ]
    assert agree


def test_evaluate_corpus_when_entities_given_then_other_findings_are_not_false_alarms() -> None:
    from tests.corpus import LabelledText
    from tests.unit.anonymize.detect.test_accuracy import evaluate_corpus

    marked = [LabelledText("客户张伟来电，电话13912345678。", [(2, 4, "PERSON")])]
    everything = evaluate_corpus("vector", marked, fuse=False)
    names = evaluate_corpus("vector", marked, fuse=False, entities=frozenset({"PERSON"}))
    assert everything.scores["PHONE_NUMBER"].fp == 1
    assert names.scores["PHONE_NUMBER"].predicted == 0
    assert names.scores["PERSON"].tp == 1
