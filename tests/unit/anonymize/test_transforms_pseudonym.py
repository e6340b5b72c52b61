"""Keyed pseudonyms: stable per key and domain, unrelated across keys and domains."""

from __future__ import annotations

import hashlib
from typing import Literal

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from anonymize.errors import AnonymizationError
from anonymize.transforms.pseudonym import pseudonymize

SECRET = b"unit-test-secret-0123456789abcdef"
secrets_ = st.binary(min_size=16, max_size=48)
values = st.text(min_size=1, max_size=24)


def _one(
    value: str,
    secret: bytes,
    domain: str = "c",
    output: Literal["hex", "format"] = "hex",
    length: int = 16,
) -> str:
    frame = pl.DataFrame({"c": [value]})
    expr = pseudonymize(frame["c"], secret, domain=domain, output=output, length=length)
    return str(frame.select(expr).item())


@given(values, secrets_, st.lists(values, max_size=10))
@settings(max_examples=60, deadline=None)
def test_pseudonym_when_same_key_then_stable_whatever_else_is_in_the_column(
    value: str, secret: bytes, others: list[str]
) -> None:
    frame = pl.DataFrame({"c": [*others, value, *others]})
    out = frame.select(pseudonymize(frame["c"], secret, domain="c"))["c"]
    assert out[len(others)] == _one(value, secret)
    outputs: tuple[Literal["hex", "format"], ...] = ("hex", "format")
    for output in outputs:
        assert _one(value, secret, output=output) == _one(value, secret, output=output)


@given(values, secrets_, secrets_)
@settings(max_examples=60, deadline=None)
def test_pseudonym_when_keys_differ_then_pseudonyms_differ(
    value: str, first: bytes, second: bytes
) -> None:
    assume(first != second)
    assert _one(value, first) != _one(value, second)


@given(values, secrets_, st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_pseudonym_when_domains_differ_then_columns_are_not_linkable(
    value: str, secret: bytes, first: str, second: str
) -> None:
    assume(first != second)
    assert _one(value, secret, domain=first) != _one(value, secret, domain=second)


@given(st.lists(values, min_size=2, max_size=20, unique=True))
@settings(max_examples=40, deadline=None)
def test_pseudonym_when_values_distinct_then_hex_pseudonyms_distinct(items: list[str]) -> None:
    frame = pl.DataFrame({"c": items})
    out = frame.select(pseudonymize(frame["c"], SECRET, domain="c"))["c"]
    assert out.n_unique() == len(items)


FORMAT_CASES = [
    # resident ID: 17 digits and a letter keep their classes
    ("32010219800101123X", r"^\d{17}[A-Z]$"),
    # mobile: 11 digits
    ("13912345678", r"^\d{11}$"),
    # e-mail: letters stay letters, separators stay
    ("li.si@example.com", r"^[a-z]{2}\.[a-z]{2}@[a-z]{7}\.[a-z]{3}$"),
    # Chinese name: ideographs stay ideographs
    ("张三丰", r"^[\u4e00-\u9fa5]{3}$"),
    # grouped bank card: spaces kept
    ("6222 0212 3456 7890", r"^\d{4} \d{4} \d{4} \d{4}$"),
]


@pytest.mark.parametrize(("value", "shape"), FORMAT_CASES)
def test_pseudonym_when_format_output_then_shape_kept_and_value_changed(
    value: str, shape: str
) -> None:
    out = _one(value, SECRET, output="format")
    assert pl.Series([out]).str.contains(shape).item()
    assert out != value


def test_pseudonym_when_hex_output_then_length_and_not_a_plain_hash() -> None:
    out = _one("32010219800101123X", SECRET, length=20)
    assert len(out) == 20 and int(out, 16) >= 0
    assert out not in hashlib.sha256(b"32010219800101123X").hexdigest()


def test_pseudonym_when_null_then_null() -> None:
    frame = pl.DataFrame({"c": [None, "a"]})
    assert frame.select(pseudonymize(frame["c"], SECRET, domain="c"))["c"][0] is None


def test_pseudonym_when_secret_is_short_then_error_says_use_settings_secret() -> None:
    with pytest.raises(AnonymizationError, match=r"Settings\.secret\(\)"):
        _one("x", b"short")
