"""TransformSpec and apply(): declared per-column operations over a whole table."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from stdnum.cn import ric

from anonymize.detect.findings import FINDINGS_SCHEMA
from anonymize.errors import AnonymizationError
from anonymize.transforms import TransformSpec, apply

SECRET = b"golden-secret-for-unit-tests-only-0123456789"
GOLDEN = Path(__file__).parent / "golden" / "transform_residents.ndjson"
# Read at import: the suite's autouse fixture clears SANDBOX_* before each test runs.
REGENERATE = os.environ.get("SANDBOX_REGENERATE_GOLDEN") == "1"


def _resident_id(region: str, born: dt.date, serial: int) -> str:
    body = f"{region}{born:%Y%m%d}{serial:03d}"
    return body + ric.calc_check_digit(body)


RESIDENTS = pl.DataFrame(
    {
        "name": ["张三", "李四", "王小明", "赵六"],
        "resident_id": [
            _resident_id("320102", dt.date(1980, 1, 1), 123),
            _resident_id("320505", dt.date(1992, 7, 15), 41),
            _resident_id("110105", dt.date(1949, 12, 31), 2),
            _resident_id("320106", dt.date(2001, 2, 28), 77),
        ],
        "phone": ["13912345678", "13800001111", "15000002222", "18600003333"],
        "email": ["zhangsan@example.com", "lisi@example.cn", "wxm@mail.com", "zl@example.org"],
        "age": [45, 33, 75, 24],
        "born": [
            dt.date(1980, 1, 1),
            dt.date(1992, 7, 15),
            dt.date(1949, 12, 31),
            dt.date(2001, 2, 28),
        ],
        "address": [
            "江苏省南京市玄武区中山路1号",
            "江苏省苏州市姑苏区人民路2号",
            "北京市朝阳区建国路3号",
            "江苏省南京市鼓楼区北京西路4号",
        ],
        "postcode": ["210008", "215000", "100020", "210009"],
        "income": [64_000.0, 120_500.0, 8_000.0, 31_000.0],
        "note": ["联系人张三，电话13912345678", "无", "身份证见附件", "请致电18600003333"],
        "household": [3, 1, 2, 4],
    }
)
NOTE_FINDINGS = pl.DataFrame(
    {
        "row": [0, 0, 3],
        "column": ["note"] * 3,
        "entity": ["PERSON", "PHONE_NUMBER", "PHONE_NUMBER"],
        "start": [3, 8, 3],
        "end": [5, 19, 14],
        "score": [0.85, 0.99, 0.99],
    },
    schema=FINDINGS_SCHEMA,
)
SPEC = TransformSpec.model_validate(
    {
        "columns": {
            "name": {"op": "mask", "keep_first": 1},
            "resident_id": {"op": "pseudonym", "output": "format"},
            "phone": {"op": "mask", "keep_first": 3, "keep_last": 4},
            "email": {"op": "pseudonym", "length": 12},
            "age": {"op": "generalize", "hierarchy": {"kind": "interval", "widths": [10]}},
            "born": {"op": "generalize", "hierarchy": {"kind": "date", "levels": ["year"]}},
            "address": {
                "op": "generalize",
                "level": 2,
                "hierarchy": {"kind": "address"},
            },
            "postcode": {"op": "generalize", "hierarchy": {"kind": "prefix", "lengths": [3]}},
            "income": {
                "op": "generalize",
                "hierarchy": {"kind": "cuts", "levels": [[30000, 60000, 120000]]},
            },
            "note": {"op": "redact"},
            "household": {"op": "keep"},
        }
    }
)


def test_apply_when_golden_spec_then_output_matches_golden_file() -> None:
    out = apply(RESIDENTS, SPEC, SECRET, findings=NOTE_FINDINGS).write_ndjson()
    if REGENERATE:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(out, encoding="utf-8")
        pytest.skip("golden file regenerated: review the diff before committing it")
    assert out == GOLDEN.read_text(encoding="utf-8"), (
        "anonymizer output changed; if intended, rerun with SANDBOX_REGENERATE_GOLDEN=1"
    )


def test_apply_when_column_not_in_spec_then_dropped_unless_others_keep() -> None:
    spec = TransformSpec.model_validate({"columns": {"age": {"op": "keep"}}})
    assert apply(RESIDENTS, spec, SECRET).columns == ["age"]
    keep_all = TransformSpec.model_validate({"columns": {"name": {"op": "drop"}}, "others": "keep"})
    assert apply(RESIDENTS, keep_all, SECRET).columns == RESIDENTS.columns[1:]


INVALID = [
    # unknown top-level field
    {"columns": {"age": {"op": "keep"}}, "extra": 1},
    # unknown operator
    {"columns": {"age": {"op": "shuffle"}}},
    # unknown parameter of an operator
    {"columns": {"age": {"op": "mask", "keep_middle": 2}}},
    # mask character must be one code point
    {"columns": {"age": {"op": "mask", "char": "**"}}},
    # negative kept length
    {"columns": {"age": {"op": "mask", "keep_first": -1}}},
    # hex pseudonyms shorter than 8 digits collide too easily
    {"columns": {"age": {"op": "pseudonym", "length": 4}}},
    # a generalization level the hierarchy does not have
    {
        "columns": {
            "age": {
                "op": "generalize",
                "level": 5,
                "hierarchy": {"kind": "interval", "widths": [10]},
            }
        }
    },
    # redaction of an entity that does not exist
    {"columns": {"note": {"op": "redact", "entities": ["SSN"]}}},
    # an empty spec releases nothing by accident
    {"columns": {}},
]


@pytest.mark.parametrize("data", INVALID)
def test_spec_when_invalid_then_validation_fails(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TransformSpec.model_validate(data)


def test_apply_when_spec_names_missing_column_then_error_says_what_to_do() -> None:
    spec = TransformSpec.model_validate({"columns": {"salary": {"op": "keep"}}})
    with pytest.raises(AnonymizationError, match="remove them from the spec"):
        apply(RESIDENTS, spec, SECRET)


def test_apply_when_redacting_without_findings_then_error_says_to_scan() -> None:
    spec = TransformSpec.model_validate({"columns": {"note": {"op": "redact"}}})
    assert spec.needs_findings
    with pytest.raises(AnonymizationError, match="scan the table"):
        apply(RESIDENTS, spec, SECRET)


def test_apply_when_generalizing_wrong_type_then_error_carries_no_value() -> None:
    spec = TransformSpec.model_validate(
        {
            "columns": {
                "phone": {"op": "generalize", "hierarchy": {"kind": "interval", "widths": [10]}}
            }
        }
    )
    with pytest.raises(AnonymizationError) as err:
        apply(RESIDENTS, spec, SECRET)
    assert "139" not in str(err.value)


# --- property: no seeded identifier survives anywhere in the table --------------------

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
REGIONS = ["320102", "320505", "110105", "440305", "510104"]


@st.composite
def _person(draw: st.DrawFn) -> dict[str, str]:
    born = draw(st.dates(dt.date(1930, 1, 1), dt.date(2010, 12, 31)))
    rid = _resident_id(draw(st.sampled_from(REGIONS)), born, draw(st.integers(0, 999)))
    phone = (
        "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    )
    name = draw(st.sampled_from(SURNAMES)) + draw(st.text(GIVEN, min_size=1, max_size=2))
    user = draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10))
    return {"name": name, "resident_id": rid, "phone": phone, "email": f"{user}@example.com"}


def _with_note(
    person: dict[str, str], age: int
) -> tuple[dict[str, object], list[tuple[str, int, int]]]:
    """A row whose free-text note repeats the identifiers, and the findings for it."""
    parts = [
        ("联系人", None),
        (person["name"], "PERSON"),
        ("，电话", None),
        (person["phone"], "PHONE_NUMBER"),
        ("，身份证", None),
        (person["resident_id"], "CN_RESIDENT_ID"),
        ("。", None),
    ]
    note, spans, at = "", [], 0
    for text, entity in parts:
        if entity:
            spans.append((entity, at, at + len(text)))
        note += text
        at += len(text)
    return {**person, "age": age, "note": note}, spans


@given(st.lists(st.tuples(_person(), st.integers(0, 99)), min_size=1, max_size=25))
@settings(max_examples=40, deadline=None)
def test_apply_when_direct_identifiers_transformed_then_no_seeded_identifier_survives(
    people: list[tuple[dict[str, str], int]],
) -> None:
    rows, findings = [], []
    for row, (person, age) in enumerate(people):
        record, spans = _with_note(person, age)
        rows.append(record)
        findings += [(row, "note", entity, start, end, 0.9) for entity, start, end in spans]
    frame = pl.DataFrame(rows)
    found = pl.DataFrame(findings, schema=list(FINDINGS_SCHEMA), orient="row")
    spec = TransformSpec.model_validate(
        {
            "columns": {
                "name": {"op": "pseudonym"},
                "resident_id": {"op": "pseudonym", "output": "format"},
                "phone": {"op": "mask", "keep_first": 3, "keep_last": 4},
                "email": {"op": "drop"},
                "age": {"op": "generalize", "hierarchy": {"kind": "interval", "widths": [10]}},
                "note": {"op": "redact"},
            }
        }
    )
    out = apply(frame, spec, SECRET, findings=found.cast(FINDINGS_SCHEMA))  # type: ignore[arg-type]
    cells = [str(v) for column in out.iter_columns() for v in column.to_list()]
    seeded = {p[k] for p, _ in people for k in ("name", "resident_id", "phone", "email")}
    survivors = sorted(s for s in seeded if any(s in cell for cell in cells))
    assert survivors == []
    assert out.height == frame.height
