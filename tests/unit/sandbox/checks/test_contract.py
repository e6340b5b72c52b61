"""Every check on a representative output of every kind, and the shape of the registry.

Each built-in kind has representative outputs here (a table of statistics, a
table of records, a model as JSON and as safetensors, a program's zip), keyed
by the kind's name: a kind registered in :data:`jobs.kinds.KINDS` without an
output here fails. Every check of :data:`sandbox.checks.registry.CHECKS` runs
on every one of them and must answer a known verdict with a reason that names
no value of the data.
"""

from __future__ import annotations

import inspect
import json
import pickle
import pkgutil
import typing
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl
import pytest
from safetensors.numpy import save_file

import sandbox.checks
from jobs.kinds import KINDS, JobKind, KindCheckFacts
from policies.catalog import Product
from sandbox.checks import Check, CheckContext, Contents
from sandbox.checks.base import CheckModule
from sandbox.checks.engine import prepared, read_output, run_checks
from sandbox.checks.registry import CHECKS
from sandbox.cli.demo_data import DEMO_TAGS, JIANGSU_CITIES
from tests.unit.sandbox.checks.helpers import (
    KIND_CHECKS,
    PUBLIC,
    RESIDENTS,
    context_of,
    extract_frame,
    noisy_aggregate,
)

#: Values of the data no reason may quote (the custom output's notes hold the phone).
PHONE = str(RESIDENTS["phone"][0])
RESIDENT_ID = str(RESIDENTS["resident_id"][0])


def _aggregate(folder: Path) -> Path:
    """Noisy counts over the declared cities, with their error bars."""
    path = folder / "aggregate.parquet"
    noisy_aggregate().write_parquet(path)
    return path


def _extract(folder: Path) -> Path:
    """A 5-anonymous extract: age bands, cities, sex, raw income."""
    path = folder / "extract.parquet"
    extract_frame(5).write_parquet(path)
    return path


def _model_json(folder: Path) -> Path:
    path = folder / "model.json"
    model = {"kind": "logistic_regression", "coef": [[0.12, -0.5]], "intercept": [0.3]}
    path.write_text(json.dumps(model))
    return path


def _model_safetensors(folder: Path) -> Path:
    path = folder / "model.safetensors"
    save_file({"layer.weight": np.zeros((2, 2), dtype=np.float32)}, str(path), {"epochs": "3"})
    return path


def _custom(folder: Path) -> Path:
    """A program's archive: a table of counts and notes that leak a phone number."""
    table = pl.DataFrame({"city": list(JIANGSU_CITIES), "n": [150 + 7 * i for i in range(13)]})
    path = folder / "custom.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("table.csv", table.write_csv())
        archive.writestr("notes.txt", f"ran on 13 cities\ncall {PHONE} with questions\n")
    return path


@dataclass(frozen=True)
class Output:
    """A representative output of a kind, the context fields its jobs have, and the verdicts."""

    write: Callable[[Path], Path]
    fields: dict[str, Any]
    verdicts: dict[str, str]


_ALL_PASS = {m.NAME: "pass" for m in CHECKS}

#: Kind name -> its representative outputs by label.
OUTPUTS: dict[str, dict[str, Output]] = {
    "aggregate": {
        "table": Output(_aggregate, {"count_columns": ("count",), "public_keys": PUBLIC}, _ALL_PASS)
    },
    "extract": {"records": Output(_extract, {"k": 5}, _ALL_PASS)},
    "train": {
        "json": Output(_model_json, {}, _ALL_PASS),
        "safetensors": Output(_model_safetensors, {}, _ALL_PASS),
    },
    "custom": {"zip": Output(_custom, {}, {**_ALL_PASS, "pii_scan": "fail"})},
}
CASES = [(kind, label) for kind, outputs in OUTPUTS.items() for label in outputs]


def _registered() -> dict[str, JobKind] | None:
    """The registered kinds, or None while the built-in kinds expose no ``KIND`` yet."""
    try:
        return {kind.name: kind for kind in KINDS}
    except (ImportError, AttributeError):
        return None


# TODO(merge): remove this skip once jobs/kinds/<kind>/ expose KIND (helper "kinds").
needs_kinds = pytest.mark.skipif(
    _registered() is None, reason="jobs.kinds.KINDS cannot load its KIND objects yet"
)


def _context(kind: str, label: str, stored: dict[str, str]) -> CheckContext:
    fields = OUTPUTS[kind][label].fields
    return context_of(kind, min_cell=10, inputs=stored, tags={"residents": DEMO_TAGS}, **fields)


@pytest.fixture(scope="module")
def read(
    tmp_path_factory: pytest.TempPathFactory, stored: dict[str, str]
) -> dict[tuple[str, str], tuple[Contents, CheckContext]]:
    """Every representative output, read once as the engine reads it."""
    found = {}
    for kind, label in CASES:
        folder = tmp_path_factory.mktemp(f"{kind}-{label}")
        context = prepared(_context(kind, label, stored))
        work = folder / "work"
        work.mkdir()
        path = OUTPUTS[kind][label].write(folder)
        found[(kind, label)] = (read_output(path, context, work), context)
    return found


# --- every check on every kind's output ---------------------------------------------------


@pytest.mark.parametrize(("kind", "label"), CASES)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.NAME)
def test_check_when_run_on_each_kinds_output_then_known_verdict_and_no_value(
    check: CheckModule,
    kind: str,
    label: str,
    read: dict[tuple[str, str], tuple[Contents, CheckContext]],
) -> None:
    contents, context = read[(kind, label)]
    found = check.run(contents, context)
    assert isinstance(found, Check)
    assert found.name == check.NAME
    assert found.verdict == OUTPUTS[kind][label].verdicts[check.NAME], found
    assert found.reason
    assert PHONE not in found.reason and RESIDENT_ID not in found.reason


@pytest.mark.parametrize(("kind", "label"), CASES)
def test_run_checks_when_each_kinds_output_then_every_check_in_registry_order(
    tmp_path: Path, stored: dict[str, str], kind: str, label: str
) -> None:
    found = run_checks(OUTPUTS[kind][label].write(tmp_path), _context(kind, label, stored))
    assert [c.name for c in found] == [m.NAME for m in CHECKS]
    assert {c.name: c.verdict for c in found} == OUTPUTS[kind][label].verdicts
    assert not any(PHONE in c.reason or RESIDENT_ID in c.reason for c in found)


@needs_kinds
def test_outputs_when_kinds_are_registered_then_every_kind_has_representative_outputs() -> None:
    assert set(OUTPUTS) == set(KINDS.names())


@needs_kinds
def test_kind_checks_when_kinds_are_registered_then_products_and_formats_agree() -> None:
    kinds = _registered() or {}
    declared = {name: (k.product, frozenset(k.output_formats)) for name, k in kinds.items()}
    assert declared == KIND_CHECKS


# --- a kind the checks have never heard of ------------------------------------------------


@dataclass(frozen=True)
class _ToyKind:
    """What :meth:`CheckContext.build` reads of a kind: its name and product."""

    name: str
    product: Product


def _toy_context(stored: dict[str, str], formats: frozenset[str]) -> CheckContext:
    toy = cast(JobKind, _ToyKind("toy_top_k", Product.STATISTICS))
    facts = KindCheckFacts(formats=formats, count_columns=("count",))
    return CheckContext.build(
        toy,
        facts,
        min_cell=10,
        public_keys=PUBLIC,
        inputs=stored,
        tags={"residents": DEMO_TAGS},
        privacy_units={},
    )


def test_build_when_a_toy_kind_releases_statistics_then_checked_like_any_statistics(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    context = _toy_context(stored, frozenset({"parquet"}))
    assert (context.kind, context.product, context.count_columns) == (
        "toy_top_k",
        Product.STATISTICS,
        ("count",),
    )
    path = _aggregate(tmp_path)
    assert run_checks(path, context) == run_checks(path, _context("aggregate", "table", stored))


def test_build_when_pickled_for_the_checks_process_then_the_same_context(
    stored: dict[str, str],
) -> None:
    context = _toy_context(stored, frozenset({"parquet"}))
    assert pickle.loads(pickle.dumps(context)) == context


def test_build_when_a_toy_kind_gets_a_format_it_does_not_declare_then_file_type_names_it(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    found = run_checks(_custom(tmp_path), _toy_context(stored, frozenset({"parquet"})))
    assert [(c.name, c.verdict) for c in found] == [("file_type", "fail"), ("size", "pass")]
    assert "a toy_top_k job may release parquet; the output is a zip archive" in found[0].reason


# --- the registry -------------------------------------------------------------------------


def test_registry_when_listed_then_names_are_unique_and_in_report_order() -> None:
    names = [check.NAME for check in CHECKS]
    assert len(set(names)) == len(names)
    assert names == [
        "file_type",
        "size",
        "pii_scan",
        "raw_rows",
        "small_cells",
        "identifier_columns",
    ]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.NAME)
def test_registry_when_a_check_is_listed_then_its_module_has_the_checks_shape(
    check: CheckModule,
) -> None:
    module = cast(Any, check)
    assert module.__name__ == f"sandbox.checks.{check.NAME}"
    assert Path(module.__file__).name == f"{check.NAME}.py"
    assert isinstance(check.ON_EMPTY, bool)
    assert list(inspect.signature(check.run).parameters) == ["contents", "context"]
    hints = typing.get_type_hints(check.run)
    assert hints == {"contents": Contents, "context": CheckContext, "return": Check}


def test_registry_when_a_module_defines_a_check_then_it_is_registered() -> None:
    import importlib

    listed = {check.NAME for check in CHECKS}
    defined = set()
    for info in pkgutil.iter_modules(sandbox.checks.__path__):
        module = importlib.import_module(f"sandbox.checks.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            defined.add(module.NAME)
    assert defined == listed
