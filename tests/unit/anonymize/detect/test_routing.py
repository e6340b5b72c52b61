"""Classify first (:mod:`anonymize.detect._routing`): the same findings as every rule everywhere.

``scan_table(classify=True)`` classifies each long column from a sample and
runs on most of its cells only that entity's rules; ``classify=False`` runs
every rule on every cell. Both must find exactly the same, on the benchmark's
generated table and on columns built from the PII corpus of the accuracy tests,
with adversarial cells that hold another entity than their column's (an ID in
a column of names, a phone in a column of addresses, an e-mail in a column of
IDs, a whole case note in a column of phones).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from anonymize.detect import _routing
from anonymize.detect.entities import ENTITIES, definition
from anonymize.detect.vector import _prepared, _scan_column, scan_table
from tests.corpus import LabelledText, make_corpus

BENCHMARKS = Path(__file__).resolve().parents[4] / "benchmarks"
SEED = 20250501
ROWS = 1_500


@pytest.fixture(autouse=True)
def _short_columns_routed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route columns of a few hundred cells too (the default skips them as too short)."""
    monkeypatch.setattr(_routing, "MIN_CELLS", 50)
    monkeypatch.setattr(_routing, "SAMPLE_CELLS", 200)


@pytest.fixture(scope="module")
def corpus() -> list[LabelledText]:
    return make_corpus(1_200, SEED)


def _pii_scan() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_bench_pii_scan", BENCHMARKS / "pii_scan.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _plan(frame: pl.DataFrame, column: str) -> _routing.Plan:
    cells = _prepared(frame.get_column(column).to_frame(), column)
    assert cells is not None
    return _routing.plan(cells, list(ENTITIES), 0.5, _scan_column)


def _same(frame: pl.DataFrame) -> pl.DataFrame:
    """Assert both scans find the same (rows in the same order); the findings."""
    full = scan_table(frame, fuse=False, classify=False)
    routed = scan_table(frame, fuse=False, classify=True)
    columns = list(full.columns)
    assert routed.sort(columns).equals(full.sort(columns))
    assert routed.select("column", "row", "start").equals(full.select("column", "row", "start"))
    return routed


def test_benchmark_table_when_classified_first_then_findings_equal_the_full_scan() -> None:
    table, _ = _pii_scan().make_table(ROWS, seed=7)
    # Adversarial cells: each holds another entity than its column's.
    n = table.height
    first = table.row(1, named=True)
    marked = {
        "name": (first["id"], 17),  # an ID in a column of names
        "id": (first["email"], 19),  # an e-mail in a column of IDs
        "address": (f"{first['address']}，电话{first['phone']}", 23),  # a phone
        "phone": (f"联系人{first['name']}", 29),  # a name with its context word
        "email": ("车牌苏A12345", 31),  # a plate
    }
    rows = pl.int_range(n, eager=True)
    table = table.with_columns(
        pl.when(rows % every == 0).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
        for column, (value, every) in marked.items()
    )
    expected = {
        "name": "PERSON",
        "id": "CN_RESIDENT_ID",
        "phone": "PHONE_NUMBER",
        "email": "EMAIL_ADDRESS",
        "address": "CN_ADDRESS",
    }
    for column, entity in expected.items():
        assert _plan(table, column).entity == entity, column
    assert _plan(table, "note").entity is None  # free text: every rule
    found = _same(table)
    foreign = found.filter(
        pl.col("column").replace_strict(expected, default=None) != pl.col("entity")
    )
    # Every adversarial cell's foreign entity is found (the guard sent it to every rule).
    for column, (_, every) in marked.items():
        rows_found = set(foreign.filter(pl.col("column") == column)["row"].to_list())
        assert set(range(0, n, every)) <= rows_found, column


def _column(corpus: list[LabelledText], entity: str) -> list[str]:
    return [t.text[s:e] for t in corpus for s, e, k in t.spans if k == entity]


def test_corpus_columns_when_classified_first_then_findings_equal_the_full_scan(
    corpus: list[LabelledText],
) -> None:
    """A column of each entity's corpus values (every form the corpus writes them in), some
    cells replaced by a whole corpus note or by a value of the next entity."""
    texts = [t.text for t in corpus]
    names = [d.name for d in ENTITIES]
    routed = 0
    for i, entity in enumerate(names):
        values = _column(corpus, entity)
        if len(values) < 100:
            continue
        other = _column(corpus, names[(i + 1) % len(names)]) or ["13912345678"]
        cells = [
            texts[j % len(texts)]
            if j % 17 == 0
            else other[j % len(other)]
            if j % 13 == 0
            else f"{v} {other[j % len(other)]}"
            if j % 19 == 0
            else v
            for j, v in enumerate(values)
        ]
        frame = pl.DataFrame({entity: pl.Series(cells, dtype=pl.String)})
        routed += _plan(frame, entity).entity == entity
        found = _same(frame)
        assert found.filter(pl.col("entity") != entity).height, entity
    assert routed >= 5  # most entity columns are classified, so the guard is exercised


def test_corpus_notes_when_classified_first_then_every_rule_runs_and_findings_are_equal(
    corpus: list[LabelledText],
) -> None:
    frame = pl.DataFrame({"text": pl.Series([t.text for t in corpus], dtype=pl.String)})
    assert _plan(frame, "text").entity is None
    _same(frame)


def test_requires_when_an_entity_is_found_then_its_cell_holds_the_entity_s_requires(
    corpus: list[LabelledText],
) -> None:
    """The guard rests on this: a cell without an entity's ``requires`` holds none of it.

    The guard reads the cell as the rules do: normalized (full-width digits folded).
    Every entity's own examples too: a new rule whose ``requires`` its matches do not
    hold fails here, before the guard loses its findings.
    """
    examples = [text for entity in ENTITIES for text, _ in entity.examples]
    texts = [t.text for t in corpus] + examples
    frame = pl.DataFrame({"text": pl.Series(texts, dtype=pl.String)})
    found = scan_table(frame, fuse=False, classify=False)
    prepared = _prepared(frame, "text")
    assert prepared is not None
    padded = prepared.sort("row")["padded"]
    assert found["entity"].n_unique() == len(ENTITIES)  # every entity is checked
    for entity, part in found.partition_by("entity", as_dict=True).items():
        regex = _routing.requires(definition(str(entity[0])))
        assert padded.gather(part["row"].unique()).str.contains(regex).all(), entity
