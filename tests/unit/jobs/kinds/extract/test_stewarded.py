"""Steward hierarchies in extracts: named ones resolved, stored ones used by default, the metric."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from anonymize.hierarchies import TableHierarchy
from jobs.errors import InvalidJobSpec
from jobs.facts import DatasetFacts, GrantFacts, StoredHierarchy
from jobs.kinds import KINDS, parse_job_spec
from jobs.kinds.extract.engine import run, validate
from jobs.kinds.extract.spec import ExtractSpec, NamedHierarchy
from jobs.kinds.extract.stewarded import options_of, resolve
from jobs.task import Task
from policies.catalog import ColumnTag, Grade
from sandbox.cli.demo_data import DEMO_TAGS, generate_residents

#: ARX's format: education -> level of schooling -> *.
EDUCATION = """小学;基础教育;*
初中;基础教育;*
高中;中等教育;*
大专;高等教育;*
本科;高等教育;*
研究生;高等教育;*
"""
QIS = ("sex", "age", "education")
OPTIONS: dict[str, Any] = {
    "min_k": 5,
    "linkage": False,
    "pseudonym_key": "5a" * 32,
    "hierarchies": options_of([StoredHierarchy("schooling", "education", EDUCATION)]),
}


def _spec(**changes: Any) -> ExtractSpec:
    data: dict[str, Any] = {
        "kind": "extract",
        "dataset": "residents",
        "columns": ["sex", "age", "education", "income"],
        "l": 2,
    }
    return ExtractSpec.model_validate(data | changes)


@pytest.mark.parametrize(
    ("hierarchies", "metric"),
    [
        ({"education": {"kind": "named", "name": "schooling"}}, "ncp"),  # a steward's, by name
        ({}, "non_uniform_entropy"),  # ARX's non-uniform entropy
    ],
)
def test_extract_spec_when_named_hierarchy_or_metric_then_parsed(
    hierarchies: dict[str, Any], metric: str
) -> None:
    spec = parse_job_spec(_spec(hierarchies=hierarchies, metric=metric).model_dump(mode="json"))
    assert isinstance(spec, ExtractSpec) and spec.metric == metric
    if hierarchies:
        assert spec.hierarchies["education"] == NamedHierarchy(name="schooling")


@pytest.mark.parametrize(
    "changes",
    [
        {"metric": "discernibility"},  # not a metric the search offers
        {"hierarchies": {"education": {"kind": "named"}}},  # a named hierarchy needs its name
        {"hierarchies": {"education": {"kind": "named", "name": "x", "rows": []}}},  # no extras
        {"hierarchies": {"education": {"kind": "named", "name": ""}}},  # an empty name
    ],
)
def test_extract_spec_when_malformed_then_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _spec(**changes)


def test_extract_spec_when_metric_not_given_then_ncp() -> None:
    assert _spec().metric == "ncp"


def _facts(hierarchies: tuple[StoredHierarchy, ...]) -> DatasetFacts:
    from jobs.facts import Column

    frame = generate_residents(20, seed=1)
    return DatasetFacts(
        name="residents",
        parts="",
        grade=Grade.GENERAL,
        row_count=20,
        public_row_count=20,
        columns=tuple(
            Column(c, str(frame.schema[c]), ColumnTag(DEMO_TAGS[c])) for c in frame.columns
        ),
        hierarchies=hierarchies,
    )


def test_extract_validate_when_named_hierarchy_unknown_then_invalid_spec_naming_it() -> None:
    kind = KINDS["extract"]
    facts = (_facts(()),)
    spec = _spec(hierarchies={"education": {"kind": "named", "name": "schooling"}})
    with pytest.raises(InvalidJobSpec, match="no hierarchy named 'schooling'") as refused:
        kind.validate(spec, facts, kind.options(GrantFacts(id=1), facts, b"s" * 32))
    assert "/v1/datasets/residents/hierarchies" in str(refused.value)
    stored = (_facts((StoredHierarchy("schooling", "education", EDUCATION),)),)
    kind.validate(spec, stored, kind.options(GrantFacts(id=1), stored, b"s" * 32))


def test_resolve_when_stored_for_a_column_the_spec_leaves_open_then_the_stewards() -> None:
    given, steward = resolve(_spec(), OPTIONS, QIS)
    assert steward == {"education": "schooling"}
    assert given["education"] == TableHierarchy.from_csv(EDUCATION)
    assert "sex" not in given and "age" not in given  # chosen automatically later


def test_resolve_when_spec_gives_its_own_then_the_spec_wins() -> None:
    inline = {"kind": "map", "levels": [{v: "任意" for v in ("小学", "初中")}]}
    given, steward = resolve(_spec(hierarchies={"education": inline}), OPTIONS, QIS)
    assert steward == {} and given["education"].kind == "map"


def _task(tmp_path: Path, spec: ExtractSpec, options: dict[str, Any]) -> Task:
    frame = generate_residents(600, seed=20250401)
    folder = tmp_path / "data"
    folder.mkdir()
    frame.write_parquet(folder / "part-00000.parquet")
    return Task(
        job_id=1,
        spec=spec.model_dump(mode="json"),
        inputs={"residents": str(folder / "part-*.parquet")},
        row_counts={"residents": frame.height},
        output_path=str(tmp_path / "quarantine" / "job-1.parquet"),
        min_cell=10,
        seed=7,
        privacy_units={"residents": "resident_id"},
        columns={
            "residents": {
                c: {"dtype": str(frame.schema[c]), "tag": DEMO_TAGS[c]} for c in frame.columns
            }
        },
        grades={"residents": "general"},
        options=options,
    )


@pytest.mark.parametrize(
    "hierarchies",
    [
        {},  # stored for the column, named by nobody: used
        {"education": {"kind": "named", "name": "schooling"}},  # named by the operator
    ],
)
def test_extract_run_when_steward_hierarchy_then_used_and_reported_by_name_only(
    tmp_path: Path, hierarchies: dict[str, Any]
) -> None:
    outcome = run(_task(tmp_path, _spec(hierarchies=hierarchies), OPTIONS))
    entry = outcome.report["generalization"]["education"]
    assert entry["source"] == "steward"
    assert entry["hierarchy"] == {"kind": "table", "name": "schooling", "height": 2}
    released = set(pl.read_parquet(outcome.output_path)["education"].to_list())
    allowed = {
        0: {"小学", "初中", "高中", "大专", "本科", "研究生"},
        1: {"基础教育", "中等教育", "高等教育"},
    }
    assert released <= allowed.get(entry["level"], {"*"})
    assert outcome.report["generalization"]["sex"]["source"] == "automatic"


def test_extract_run_when_named_hierarchy_not_stored_then_invalid_spec(tmp_path: Path) -> None:
    spec = _spec(hierarchies={"education": {"kind": "named", "name": "schooling"}})
    with pytest.raises(InvalidJobSpec, match="no hierarchy named"):
        run(_task(tmp_path, spec, OPTIONS | {"hierarchies": {}}))


def test_validate_when_named_hierarchy_for_a_plain_column_then_refused() -> None:
    spec = _spec(
        columns=["sex", "household_size"],
        l=None,
        hierarchies={"household_size": {"kind": "named", "name": "schooling"}},
    )
    dtypes = {"sex": "String", "household_size": "Int64"}
    tags = {"sex": ColumnTag.QUASI_IDENTIFIER, "household_size": ColumnTag.PLAIN}
    with pytest.raises(InvalidJobSpec, match="not a quasi-identifier"):
        validate(spec, dtypes, tags, Grade.GENERAL, OPTIONS)
