"""Dummy rows: the catalog's schema, plausible values, valid checksums, nothing real."""

from __future__ import annotations

import polars as pl
import pytest
from stdnum.cn import uscc

from anonymize.detect.entities.resident_id import is_resident_id
from sandbox.client.dummy import dummy_frame, resident_id_check, uscc_check
from sandbox.client.schema import Column, polars_dtype
from tests.unit.sandbox.client._fake import CITIES, client


@pytest.fixture
def ds():
    with client() as c:
        yield c.dataset("residents")


def test_dummy_when_generated_then_schema_is_the_catalogs(ds):
    frame = ds.dummy(200, seed=1)
    assert frame.height == 200
    assert frame.schema == ds.schema
    assert frame.schema["seen_at"] == pl.Datetime("us")


def test_dummy_when_seeded_then_reproducible_and_unseeded_differs(ds):
    assert ds.dummy(50, seed=9).equals(ds.dummy(50, seed=9))
    assert not ds.dummy(50, seed=9).equals(ds.dummy(50, seed=10))


def test_dummy_when_identifiers_then_they_pass_the_services_own_detectors(ds):
    frame = ds.dummy(500, seed=2)
    # the server's GB 11643 detector (check character and a real birth date)
    assert all(is_resident_id(v) for v in frame["resident_id"])
    assert frame["phone"].str.contains(r"^1[3-9]\d{9}$").all()
    assert frame["address"].str.starts_with("江苏省").all()
    assert frame["name"].str.len_chars().is_between(2, 3).all()


def test_dummy_when_public_keys_declared_then_values_come_from_the_domain(ds):
    frame = ds.dummy(300, seed=3)
    assert set(frame["city"]) <= set(CITIES)
    assert frame["age"].is_between(18, 90).all()
    assert (frame["income"] > 0).all()


def test_resident_id_check_when_computed_then_matches_the_standard_and_stdnum():
    import random

    from stdnum.cn import ric

    assert resident_id_check("11010519491231002") == "X"  # GB 11643-1999's own example
    rng = random.Random(0)
    for _ in range(2000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        assert resident_id_check(body) == ric.calc_check_digit(body + "0")


def test_uscc_check_when_computed_then_stdnum_accepts_the_code():
    for body in ("91320500MA1MXXXX0", "91110000600037341", "12320000466009412"):
        assert uscc.is_valid(body + uscc_check(body))


def test_dummy_when_uscc_column_then_codes_are_valid():
    frame = dummy_frame([Column("credit_code", "String", "direct_identifier")], 100, seed=4)  # type: ignore[arg-type]
    assert all(uscc.is_valid(v) for v in frame["credit_code"])


@pytest.mark.parametrize(
    ("text", "dtype"),
    [
        ("Int64", pl.Int64()),
        ("Float32", pl.Float32()),
        ("String", pl.String()),
        ("Date", pl.Date()),
        ("Datetime(time_unit='ms', time_zone='Asia/Shanghai')", pl.Datetime("ms", "Asia/Shanghai")),
        ("Duration(time_unit='ns')", pl.Duration("ns")),
        ("Categorical(ordering='physical')", pl.String()),  # categories are data
        ("List(Int64)", pl.String()),  # nested: no honest dummy, text
    ],
)
def test_polars_dtype_when_catalog_name_then_polars_type(text, dtype):
    assert polars_dtype(text) == dtype


def test_dummy_when_n_negative_then_value_error(ds):
    with pytest.raises(ValueError, match="n must be 0 or more"):
        ds.dummy(-1)
