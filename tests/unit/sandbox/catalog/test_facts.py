"""sandbox.catalog.facts: the public row count is noisy and drawn from the exact sampler;
the input digest is keyed, so a guessed table cannot be tested against it."""

from __future__ import annotations

import hashlib
import statistics

import pytest

from sandbox.catalog.facts import input_digest, public_row_count, round_significant


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (57, 57),  # two digits: kept
        (600, 600),
        (604, 600),  # rounded to two significant figures
        (1250, 1300),  # half up
        (123_456, 120_000),
        (0, 0),
        (-3, 0),  # noise below zero: nothing is negative
    ],
)
def test_round_significant_when_value_then_two_significant_figures(value: int, expected: int):
    assert round_significant(value) == expected


def test_public_row_count_when_drawn_many_times_then_noisy_centred_and_about_scale_10():
    # 57 rows: two significant figures keep every unit, so the noise itself shows
    draws = [public_row_count(57, seed=s) for s in range(1500)]
    errors = [d - 57 for d in draws]
    assert sum(1 for e in errors if e != 0) > 1300  # almost never the exact count
    assert abs(statistics.fmean(errors)) < 1.5  # unbiased
    # discrete Laplace of scale 10: E|Z| is about 10 (2p / (1 - p²) = 9.98, p = e^-0.1)
    assert 8.5 < statistics.fmean(abs(e) for e in errors) < 11.5


def test_public_row_count_when_one_row_differs_then_outputs_overlap():
    # neighbours (600 vs 601 rows) give nearly the same distribution: the count hides a row
    a = {public_row_count(600, seed=s) for s in range(300)}
    b = {public_row_count(601, seed=s) for s in range(300)}
    assert len(a & b) >= 3


def test_input_digest_when_secret_differs_then_digest_differs_and_is_no_plain_hash():
    content = hashlib.sha256(b"a stored table").hexdigest()
    one, other = input_digest(b"secret one", content), input_digest(b"secret two", content)
    assert one == input_digest(b"secret one", content)  # deterministic: stewards recompute it
    assert one != other  # keyed: without the secret, a guess cannot be checked
    assert content not in (one, other)
    assert one != input_digest(b"secret one", hashlib.sha256(b"another table").hexdigest())
