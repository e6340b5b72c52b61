"""What every kind answers, on one example spec each, and what each built-in answers exactly.

The exact answers are those the service, the checks, the console and the
airlock gave before the kinds were plugins: the same text, fields and order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

import pytest

from jobs.dp.accounting import Charge
from jobs.kinds import KINDS, JobKind, KindCheckFacts, parse_job_spec
from jobs.kinds.aggregate import engine as aggregate_engine
from jobs.kinds.aggregate.plan import DatasetContext, rows_bound
from jobs.kinds.base import Phrase
from jobs.kinds.custom.kind import CUSTOM_WRAPPER_MEMORY
from jobs.kinds.train import engine as train_engine
from jobs.kinds.train.spec import TrainSpec
from jobs.task import Task
from policies.catalog import Grade
from policies.errors import PolicyViolation
from tests.unit.jobs.kinds.examples import EXAMPLES, GRANT, RESIDENTS

SECRET = b"deployment-secret"
#: What the caller adds to a privacy statement (the airlock's manifest).
BASE = {"kind", "epsilon", "delta", "unit"}


def _example(kind: JobKind) -> Any:
    return parse_job_spec(EXAMPLES[kind.name])


def _task(kind: JobKind, **changes: Any) -> Task:
    spec = _example(kind)
    task = Task(
        job_id=1,
        spec=spec.model_dump(mode="json"),
        inputs={RESIDENTS.name: RESIDENTS.parts},
        row_counts={RESIDENTS.name: RESIDENTS.row_count},
        public_rows={RESIDENTS.name: RESIDENTS.public_row_count},
        output_path="/nonexistent/job-1.parquet",
        min_cell=10,
        options=kind.options(GRANT, [RESIDENTS], SECRET),
    )
    return dataclasses.replace(task, **changes)


def test_examples_when_listed_then_one_per_builtin_kind() -> None:
    assert set(EXAMPLES) <= set(KINDS.names())
    assert len(EXAMPLES) == 4


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_kind_when_given_its_example_then_every_member_answers_with_its_type(name: str) -> None:
    kind = KINDS[name]
    spec = _example(kind)
    assert isinstance(spec, kind.spec_type)
    assert kind.output_formats
    options = kind.options(GRANT, [RESIDENTS], SECRET)
    assert isinstance(options, dict)
    kind.validate(spec, [RESIDENTS], options)
    charge = kind.charge(spec, [RESIDENTS], 10)
    assert isinstance(charge, Charge)
    epsilon, delta = kind.cost(spec, charge)
    assert isinstance(epsilon, float) and isinstance(delta, float)
    estimate = kind.estimate(spec, [RESIDENTS], 10)
    assert estimate["epsilon"] == pytest.approx(epsilon) and estimate["delta"] == delta
    facts = kind.check_facts(spec, _task(kind))
    assert isinstance(facts, KindCheckFacts) and facts.formats == kind.output_formats
    lines = kind.describe(spec)
    assert lines and all(
        isinstance(label, str) and isinstance(text, str | Phrase) for label, text in lines
    )
    statement = kind.privacy_statement(spec, {})
    assert isinstance(statement, dict) and isinstance(statement["guarantee"], str)
    assert not BASE & set(statement)  # the caller's fields come first and stay its own
    assert isinstance(kind.ray_options(_task(kind)), dict)
    assert kind.timeout_s(_task(kind), 600.0) >= 600.0


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_kind_when_core_data_then_refused(name: str) -> None:
    kind = KINDS[name]
    core = dataclasses.replace(RESIDENTS, grade=Grade.CORE)
    with pytest.raises(PolicyViolation, match=r"art\. 62"):
        kind.validate(_example(kind), [core], kind.options(GRANT, [core], SECRET))


# The exact lines the console shows after the kind and the datasets, in English (``str`` of a
# Phrase; the console translates its message).
DESCRIBED = {
    "aggregate": [
        ("rows", "age ≥ 18 ∧ city in ['南京市', '苏州市']"),
        ("grouped by", "city"),
        ("computes", "count"),
        ("computes", "mean of income, clamped to [0.0, 100000.0]"),
        ("computes", "quantile of income, clamped to [0.0, 100000.0]"),
        ("computes", "histogram of income"),
        ("privacy", "ε = 1.0, δ = 1e-06, gaussian noise, at most 3 rows and 2 groups per person"),
    ],
    "extract": [
        ("columns", "resident_id, age, city, illness"),
        ("k-anonymity", "k = 5, l = 2"),
        ("pseudonyms", "resident_id"),
    ],
    "train": [("privacy", "ε = 2.0, δ = 0.0")],
    "custom": [("runs", "/code/job/main.py, jailed (no network)")],
}


def _english(lines: list[tuple[str, str | Phrase]]) -> list[tuple[str, str]]:
    return [(label, str(text)) for label, text in lines]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_describe_when_example_then_the_console_lines_of_before(name: str) -> None:
    kind = KINDS[name]
    assert _english(kind.describe(_example(kind))) == DESCRIBED[name]


def test_describe_when_no_filter_grouping_l_or_pseudonym_then_says_so() -> None:
    aggregate = parse_job_spec(
        {"kind": "aggregate", "dataset": "d", "epsilon": 0.5, "aggregates": [{"op": "count"}]}
    )
    assert _english(KINDS["aggregate"].describe(aggregate))[:2] == [
        ("rows", "all rows"),
        ("grouped by", "no grouping"),
    ]
    extract = parse_job_spec({"kind": "extract", "dataset": "d", "columns": ["age"]})
    assert KINDS["extract"].describe(extract) == [
        ("columns", "age"),
        ("k-anonymity", "k = 5, l = —"),
    ]


_DP_ACCOUNTING = (
    "pure epsilon, or zCDP for Gaussian noise (Bun & Steinke 2016) converted to (epsilon, "
    "delta) by Canonne, Kamath & Steinke 2020 (Cor. 13) where tighter than Bun & Steinke's bound"
)
# The manifest's privacy statement after the caller's kind, epsilon, delta and unit.
STATEMENTS: dict[str, dict[str, Any]] = {
    "aggregate": {
        "guarantee": "differential privacy",
        "noise": "gaussian",
        "max_rows_per_unit": 3,
        "max_groups_per_unit": 2,
        "accounting": _DP_ACCOUNTING,
    },
    "extract": {"guarantee": "k-anonymity (not differential privacy)", "k": 7, "l": 3},
    "train": {
        "guarantee": "differential privacy",
        "accounting": "pure epsilon (diffprivlib), or (epsilon, delta) from opacus's RDP "
        "accountant for DP-SGD",
    },
    "custom": {"guarantee": "none by construction: every file was reviewed by a person"},
}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_privacy_statement_when_example_then_the_manifest_fields_of_before_in_order(
    name: str,
) -> None:
    kind = KINDS[name]
    report = {"k_achieved": 7, "l_achieved": 3, "records_suppressed": 12}
    statement = kind.privacy_statement(_example(kind), report)
    assert list(statement.items()) == list(STATEMENTS[name].items())


def test_options_when_extract_then_grade_k_linkage_and_the_grants_pseudonym_key() -> None:
    key = hmac.new(SECRET, b"pseudonym/grant/7", hashlib.sha256).hexdigest()
    extract = KINDS["extract"]
    assert extract.options(GRANT, [RESIDENTS], SECRET) == {
        "min_k": 5,
        "linkage": True,
        "pseudonym_key": key,
        "hierarchies": {},  # the dataset stores none
    }
    important = dataclasses.replace(RESIDENTS, grade=Grade.IMPORTANT)
    strict = dataclasses.replace(GRANT, extract_k=20, allow_linkage=False)
    assert extract.options(strict, [important], SECRET)["min_k"] == 20
    assert extract.options(GRANT, [important], SECRET)["min_k"] == 10
    other = dataclasses.replace(GRANT, id=8)
    assert extract.options(other, [RESIDENTS], SECRET)["pseudonym_key"] != key  # no linking


def test_options_when_other_kinds_then_custom_gets_the_grants_limits_only() -> None:
    assert KINDS["custom"].options(GRANT, [RESIDENTS], SECRET) == {"limits": {"wall_s": 60}}
    assert KINDS["aggregate"].options(GRANT, [RESIDENTS], SECRET) == {}
    assert KINDS["train"].options(GRANT, [RESIDENTS], SECRET) == {}


def test_charge_when_aggregate_then_the_engines_charge_on_the_public_count() -> None:
    kind = KINDS["aggregate"]
    spec = _example(kind)
    context = DatasetContext(
        privacy_unit="resident_id",
        public_keys={"city": ["南京市", "苏州市"]},
        min_cell=20,
        max_rows=rows_bound(10_000),
        non_null_columns=frozenset({"resident_id", "age"}),
    )
    assert kind.charge(spec, [RESIDENTS], 20) == aggregate_engine.charge(spec, context)
    assert kind.cost(spec, Charge()) == (1.0, 1e-6)  # what the spec declares
    assert (
        kind.estimate(spec, [RESIDENTS], 20) == aggregate_engine.estimate(spec, context).as_dict()
    )


def test_charge_when_train_then_the_engines_charge_on_the_public_count() -> None:
    kind = KINDS["train"]
    spec = parse_job_spec(
        EXAMPLES["train"]
        | {"model": {"type": "mlp", "batch_size": 64}, "delta": 1e-6, "epsilon": 2.0}
    )
    assert isinstance(spec, TrainSpec)
    charge = kind.charge(spec, [RESIDENTS], 10)
    assert charge == train_engine.charge(spec, RESIDENTS.public_row_count)
    assert kind.cost(spec, charge) == charge.standalone
    assert kind.estimate(spec, [RESIDENTS], 10) == {
        "kind": "train",
        "epsilon": charge.standalone[0],
        "delta": charge.standalone[1],
    }


@pytest.mark.parametrize("name", ["extract", "custom"])
def test_charge_when_not_dp_then_nothing(name: str) -> None:
    kind = KINDS[name]
    spec = _example(kind)
    assert kind.charge(spec, [RESIDENTS], 10) == Charge()
    assert kind.estimate(spec, [RESIDENTS], 10) == {"kind": name, "epsilon": 0.0, "delta": 0.0}


def test_check_facts_when_aggregate_then_counts_and_histograms_are_count_columns() -> None:
    kind = KINDS["aggregate"]
    facts = kind.check_facts(_example(kind), _task(kind))
    assert facts == KindCheckFacts(
        formats=frozenset({"parquet"}), count_columns=("count", "histogram_income")
    )


def test_check_facts_when_extract_then_the_larger_k_pseudonyms_and_the_inputs_rows() -> None:
    kind = KINDS["extract"]
    spec = _example(kind)
    facts = kind.check_facts(spec, _task(kind))
    assert facts == KindCheckFacts(
        formats=frozenset({"parquet"}),
        k=5,
        pseudonyms=frozenset({"resident_id"}),
        max_rows=10_123,
    )
    stricter = _task(kind, options={"min_k": 11})
    assert kind.check_facts(spec, stricter).k == 11


@pytest.mark.parametrize(
    ("name", "formats"),
    [("train", {"json", "safetensors"}), ("custom", {"zip"})],
)
def test_check_facts_when_model_or_files_then_formats_only(name: str, formats: set[str]) -> None:
    kind = KINDS[name]
    assert kind.check_facts(_example(kind), _task(kind)) == KindCheckFacts(
        formats=frozenset(formats)
    )


def test_ray_options_when_custom_then_no_cpu_slot_and_the_wrappers_memory() -> None:
    custom = KINDS["custom"]
    assert custom.untimed
    assert custom.ray_options(_task(custom)) == {"num_cpus": 0, "memory": CUSTOM_WRAPPER_MEMORY}
    assert CUSTOM_WRAPPER_MEMORY == 512 * 1024 * 1024
    # an aggregate's partition task: one CPU, and polars in it on one thread
    one_thread = {"num_cpus": 1, "runtime_env": {"env_vars": {"POLARS_MAX_THREADS": "1"}}}
    for name, reserved in (("aggregate", one_thread), ("extract", {}), ("train", {})):
        kind = KINDS[name]
        assert not kind.untimed
        assert kind.ray_options(_task(kind)) == reserved
        assert kind.timeout_s(_task(kind), 600.0) == 600.0


def test_timeout_when_custom_then_never_before_the_jails_own_wall_clock() -> None:
    custom = KINDS["custom"]
    assert custom.timeout_s(_task(custom), 600.0) == 600.0  # wall_s 60 + 60 < 600
    long = _task(custom, options={"limits": {"wall_s": 3600}})
    assert custom.timeout_s(long, 600.0) == 3660.0
    assert custom.timeout_s(_task(custom, options={}), 30.0) == 360.0  # the default 300 s


def test_failed_outcome_when_not_untimed_then_none() -> None:
    for name in ("aggregate", "extract", "train"):
        kind = KINDS[name]
        assert kind.failed_outcome(_task(kind), "stopped") is None


def test_failed_outcome_when_custom_then_an_empty_zip_for_review(tmp_path: Any) -> None:
    custom = KINDS["custom"]
    task = _task(custom, output_path=str(tmp_path / "job-1.parquet"))
    outcome = custom.failed_outcome(task, "the service stopped")
    assert outcome is not None and outcome.output_path.endswith("job-1.zip")
    assert outcome.report["problems"] == ["the run did not finish: the service stopped"]


@pytest.mark.parametrize(
    ("name", "product", "shape"),
    [
        ("aggregate", "statistics", "table"),
        ("extract", "records", "table"),
        ("train", "model", "model"),
        ("custom", "program_output", "files"),
    ],
)
def test_kind_when_builtin_then_its_product_and_shape(name: str, product: str, shape: str) -> None:
    kind = KINDS[name]
    assert (kind.product.value, kind.shape.value) == (product, shape)
    assert kind.partitioned == (name == "aggregate")
