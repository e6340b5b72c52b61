"""Generalize, suppress, keep and drop: single-column operators as polars expressions."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from pydantic import ValidationError

from anonymize.hierarchies import IntervalHierarchy
from anonymize.transforms import Context, Drop, Generalize, Keep, Suppress
from anonymize.transforms.generalize import (
    address_level,
    age_band,
    birth_year,
    id_region,
    income_range,
    postcode_prefix,
)
from anonymize.transforms.suppress import suppress

FRAME = pl.DataFrame(
    {
        "age": [37],
        "born": [dt.date(1985, 3, 2)],
        "id": ["32010219800101123X"],
        "address": ["江苏省苏州市姑苏区人民路100号"],
        "postcode": ["215000"],
        "income": [64_000.0],
    }
)

CASES = [
    # age to a 10-year band
    (age_band("age", 10), "[30, 40)"),
    # age to a 5-year band
    (age_band("age", 5), "[35, 40)"),
    # birth date to its year
    (birth_year("born"), "1985"),
    # resident ID to its province, city, county region
    (id_region("id", 2), "32"),
    (id_region("id", 4), "3201"),
    (id_region("id", 6), "320102"),
    # address to district, city, province
    (address_level("address", "district"), "江苏省苏州市姑苏区"),
    (address_level("address", "city"), "江苏省苏州市"),
    (address_level("address", "province"), "江苏省"),
    # postcode to its first digits
    (postcode_prefix("postcode", 3), "215"),
    # income to ranges with given cut points
    (income_range("income", [30_000, 60_000, 120_000]), "[60000, 120000)"),
]


@pytest.mark.parametrize(("expr", "expected"), CASES)
def test_generalize_helper_when_applied_then_coarser_value(expr: pl.Expr, expected: str) -> None:
    assert FRAME.select(expr).item() == expected


def test_generalize_op_when_level_above_height_then_validation_fails() -> None:
    with pytest.raises(ValidationError, match="height"):
        Generalize(hierarchy=IntervalHierarchy(widths=(5,)), level=3)


def test_generalize_op_when_applied_then_uses_the_hierarchy_level() -> None:
    op = Generalize(hierarchy=IntervalHierarchy(widths=(5, 10)), level=2)
    expr = op.expression(FRAME, "age", Context(secret=b""))
    assert expr is not None and FRAME.select(expr).item() == "[30, 40)"


@pytest.mark.parametrize(
    ("replacement", "expected", "dtype"),
    [
        # null keeps the column's type
        (None, [None, None], pl.Int64),
        # a marker turns it to text
        ("*", ["*", "*"], pl.String),
    ],
)
def test_suppress_when_applied_then_every_cell_replaced(
    replacement: str | None, expected: list[object], dtype: pl.DataType
) -> None:
    out = pl.DataFrame({"x": [1, None]}).select(suppress("x", replacement))
    assert out["x"].to_list() == expected and out.schema["x"] == dtype
    op = Suppress(replacement=replacement).expression(out, "x", Context(secret=b""))
    assert op is not None and out.select(op)["x"].to_list() == expected


def test_keep_and_drop_when_applied_then_column_as_is_or_absent() -> None:
    context = Context(secret=b"")
    assert Drop().expression(FRAME, "id", context) is None
    kept = Keep().expression(FRAME, "age", context)
    assert kept is not None and FRAME.select(kept).item() == 37
