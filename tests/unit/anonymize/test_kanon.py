"""k-anonymity enforcement: Flash-style lattice search with bounded record suppression."""

from __future__ import annotations

import itertools
import math
import re
import time

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from anonymize.errors import AnonymizationError
from anonymize.hierarchies import (
    AddressHierarchy,
    DateHierarchy,
    Hierarchy,
    IntervalHierarchy,
    MapHierarchy,
    PrefixHierarchy,
)
from anonymize.kanon import KAnonymitySpec, enforce_k_anonymity
from anonymize.privacy_models import measure, normalized_certainty_penalty

AGE = IntervalHierarchy(widths=(5, 10))
ZIP = PrefixHierarchy(lengths=(4, 3))

# Eight people: a 5-year age band plus a 4-digit zip prefix pairs them up.
PAIRS = pl.DataFrame(
    {
        "age": [21, 22, 23, 24, 31, 33, 35, 38],
        "zip": ["12345", "12346", "12355", "12356", "12345", "12346", "12355", "12356"],
        "illness": ["flu", "cold", "flu", "cold", "flu", "cold", "asthma", "flu"],
    }
)


def _spec(**changes: object) -> KAnonymitySpec:
    data: dict[str, object] = {"quasi_identifiers": {"age": AGE, "zip": ZIP}, "k": 2}
    data.update(changes)
    return KAnonymitySpec.model_validate(data)


def test_kanon_when_pairs_table_then_hand_checked_optimum_and_loss() -> None:
    out, report = enforce_k_anonymity(PAIRS, _spec(max_suppression=0))
    assert report.levels == {"age": 1, "zip": 1}
    # age bands cover ranges 3, 2, 3 of the domain's 17 (21..38) for 4, 2, 2 rows;
    # each zip prefix covers 2 of 4 zips: (2 - 1) / (4 - 1) = 1/3 for all 8 rows.
    expected = ((4 * 3 + 2 * 2 + 2 * 3) / 17 + 8 / 3) / 16
    assert report.information_loss == pytest.approx(expected)
    assert (report.k_achieved, report.rows_suppressed) == (2, 0)
    assert out["age"].to_list()[:2] == ["[20, 25)", "[20, 25)"]
    assert out["zip"].to_list()[:2] == ["1234", "1234"]
    assert out["illness"].to_list() == PAIRS["illness"].to_list()  # other columns untouched


def test_kanon_when_outlier_and_suppression_allowed_then_outlier_removed_not_everyone_blurred() -> (
    None
):
    table = pl.concat([PAIRS, pl.DataFrame({"age": [80], "zip": ["99999"], "illness": ["flu"]})])
    out, report = enforce_k_anonymity(table, _spec(max_suppression=0.2))
    assert report.levels == {"age": 1, "zip": 1}
    assert (report.rows_suppressed, report.suppression_limit, out.height) == (1, 1, 8)
    assert "99999" not in out["zip"].to_list() and "999" not in out["zip"].to_list()
    # with no suppression the outlier forces the top of the lattice
    _, strict = enforce_k_anonymity(table, _spec(max_suppression=0))
    assert strict.levels == {"age": 3, "zip": 3}
    assert strict.information_loss == pytest.approx(1.0)


def test_kanon_when_cheapest_bound_needs_suppression_then_branch_and_bound_looks_further() -> None:
    # Loss is not monotone once records may be suppressed (ARX notes the same).
    table = pl.DataFrame({"age": [47, 36, 45, 30], "zip": ["21000", "21500", "21000", "21000"]})
    spec = KAnonymitySpec(
        quasi_identifiers={
            "age": IntervalHierarchy(widths=(10,)),
            "zip": PrefixHierarchy(lengths=(3,)),
        },
        k=2,
        max_suppression=0.4,
    )
    _, report = enforce_k_anonymity(table, spec)
    # Lowest bound: age '*', zip kept (bound 4/8), but the lone 21500 is suppressed:
    # (3 x (1 + 0) / 2 + 1) / 4 = 0.625. Better: age in 10-year bands ([30, 40) spans
    # 6 of 17, [40, 50) spans 2 of 17) and zip '*': (2 x 6/17 + 2 x 2/17 + 4) / 8.
    assert report.levels == {"age": 1, "zip": 2}
    assert report.information_loss == pytest.approx((16 / 17 + 4) / 8)
    assert report.rows_suppressed == 0


def test_kanon_when_l_diversity_asked_then_classes_hold_l_distinct_values() -> None:
    out, report = enforce_k_anonymity(
        PAIRS, _spec(sensitive="illness", l_diversity=2, max_suppression=0)
    )
    assert report.l_achieved is not None and report.l_achieved >= 2
    assert measure(out, ["age", "zip"], "illness").l_distinct == report.l_achieved


def test_kanon_when_unreachable_then_error_says_what_to_do_and_no_value() -> None:
    table = PAIRS.with_columns(pl.lit("秘密").alias("illness"))
    with pytest.raises(AnonymizationError, match="lower l") as err:
        enforce_k_anonymity(table, _spec(sensitive="illness", l_diversity=2))
    assert "秘密" not in str(err.value)
    with pytest.raises(AnonymizationError, match="allow more suppression") as err:
        enforce_k_anonymity(PAIRS, _spec(k=9))
    assert not any(str(v) in str(err.value) for v in ["12345", "21", "flu"])


def test_kanon_when_table_empty_or_column_missing_then_error() -> None:
    with pytest.raises(AnonymizationError, match="empty"):
        enforce_k_anonymity(PAIRS.clear(), _spec())
    with pytest.raises(AnonymizationError, match="'zip'"):
        enforce_k_anonymity(PAIRS.drop("zip"), _spec())


INVALID = [
    # l-diversity without a sensitive column
    {"l_diversity": 2},
    # t-closeness without a sensitive column
    {"t_closeness": 0.3},
    # the sensitive column cannot be a quasi-identifier
    {"sensitive": "age", "l_diversity": 2},
    # suppressing everything is not anonymization
    {"max_suppression": 1.0},
    # k must be positive
    {"k": 0},
    # t is a distance in [0, 1]
    {"sensitive": "illness", "t_closeness": 1.5},
    # unknown fields are refused
    {"k_anonymity": 5},
]


@pytest.mark.parametrize("changes", INVALID)
def test_kanon_spec_when_invalid_then_validation_fails(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _spec(**changes)


# --- random tables ---------------------------------------------------------------------

SEX = MapHierarchy(levels=({"F": "person", "M": "person"},))
RANDOM_QIS: dict[str, Hierarchy] = {
    "age": IntervalHierarchy(widths=(10, 20)),
    "sex": SEX,
    "zip": PrefixHierarchy(lengths=(3,)),
}
rows = st.lists(
    st.tuples(
        st.integers(0, 99),
        st.sampled_from(["F", "M"]),
        st.sampled_from(["21000", "21001", "21500", "10002", "10003"]),
        st.sampled_from(["a", "b", "c", "d", "e"]),
    ),
    min_size=1,
    max_size=80,
)


def _table(data: list[tuple[int, str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(data, schema=["age", "sex", "zip", "illness"], orient="row")


def _top_passes(frame: pl.DataFrame, spec: KAnonymitySpec) -> bool:
    """Whether the lattice's top (everything '*', one class) meets the targets."""
    if frame.height < spec.k:
        return False
    counts = frame["illness"].value_counts()["count"].to_numpy()
    if spec.l_diversity is not None and spec.l_kind == "distinct":
        return len(counts) >= spec.l_diversity
    if spec.l_diversity is not None:
        p = counts / counts.sum()
        return math.exp(-(p * np.log(p)).sum()) >= spec.l_diversity - 1e-9
    return True


def _random_spec(
    k: int, max_suppression: float, l_diversity: int | None, **more: object
) -> KAnonymitySpec:
    """A spec over the random tables' quasi-identifiers, with ``illness`` sensitive."""
    return KAnonymitySpec.model_validate(
        {
            "quasi_identifiers": RANDOM_QIS,
            "k": k,
            "max_suppression": max_suppression,
            "sensitive": "illness",
            "l_diversity": l_diversity,
            **more,
        }
    )


@given(
    rows,
    st.integers(1, 10),
    st.sampled_from([0.0, 0.05, 0.2]),
    st.sampled_from([None, 2, 3]),
    st.sampled_from(["distinct", "entropy"]),
    st.sampled_from([None, 0.25, 0.5]),
)
@settings(max_examples=60, deadline=None)
def test_kanon_when_random_table_then_targets_met_or_honest_error(
    data: list[tuple[int, str, str, str]],
    k: int,
    max_suppression: float,
    l_diversity: int | None,
    l_kind: str,
    t: float | None,
) -> None:
    frame = _table(data)
    spec = _random_spec(k, max_suppression, l_diversity, l_kind=l_kind, t_closeness=t)
    try:
        out, report = enforce_k_anonymity(frame, spec)
    except AnonymizationError:
        assert not _top_passes(frame, spec)  # only then is there no anonymous node
        return
    measured = measure(out, list(RANDOM_QIS), "illness", reference=frame["illness"])
    assert measured.k >= k
    if l_diversity is not None and l_kind == "distinct":
        assert (measured.l_distinct or 0) >= l_diversity
    if l_diversity is not None and l_kind == "entropy":
        assert (measured.l_entropy or 0) >= l_diversity - 1e-6
    if t is not None:
        assert (measured.t or 0) <= t + 1e-6
    assert report.rows_suppressed <= math.floor(max_suppression * frame.height)
    assert out.height == frame.height - report.rows_suppressed
    assert report.nodes_checked <= report.nodes_total + report.nodes_total


def _brute_force_loss(frame: pl.DataFrame, spec: KAnonymitySpec) -> float | None:
    """Least NCP over every lattice node, each evaluated from scratch (the oracle)."""
    qis = list(spec.quasi_identifiers)
    limit = math.floor(spec.max_suppression * frame.height)
    best: float | None = None
    ranges = [range(h.height + 1) for h in spec.quasi_identifiers.values()]
    for node in itertools.product(*ranges):
        generalized = frame.with_columns(
            spec.quasi_identifiers[q].expr(q, level) for q, level in zip(qis, node, strict=True)
        )
        fails = pl.len().over(qis) < spec.k
        if spec.l_diversity is not None:
            fails |= pl.col("illness").n_unique().over(qis) < spec.l_diversity
        removed = generalized.select(fails).to_series()
        if removed.sum() > limit:
            continue
        loss = normalized_certainty_penalty(frame, generalized, qis, suppressed=removed)
        best = loss if best is None else min(best, loss)
    return best


@given(rows, st.integers(2, 6), st.sampled_from([0.0, 0.1, 0.3]), st.sampled_from([None, 2]))
@settings(max_examples=15, deadline=None)
def test_kanon_when_random_table_then_loss_equals_brute_force_optimum(
    data: list[tuple[int, str, str, str]],
    k: int,
    max_suppression: float,
    l_diversity: int | None,
) -> None:
    frame = _table(data)
    spec = _random_spec(k, max_suppression, l_diversity)
    best = _brute_force_loss(frame, spec)
    if best is None:
        with pytest.raises(AnonymizationError):
            enforce_k_anonymity(frame, spec)
        return
    _, report = enforce_k_anonymity(frame, spec)
    assert report.information_loss == pytest.approx(best, abs=1e-9)


def test_kanon_when_qis_have_nulls_then_nulls_form_their_own_class() -> None:
    frame = PAIRS.with_columns(
        pl.when(pl.col("age") > 30).then(None).otherwise(pl.col("age")).alias("age")
    )
    out, report = enforce_k_anonymity(frame, _spec(max_suppression=0))
    assert measure(out, ["age", "zip"]).k >= 2 and report.rows_suppressed == 0


def _large(n: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    cities = ["南京市玄武区", "南京市鼓楼区", "苏州市姑苏区", "无锡市梁溪区", "杭州市西湖区"]
    provinces = ["江苏省", "江苏省", "江苏省", "江苏省", "浙江省"]
    pick = rng.integers(0, len(cities), n)
    born = pl.date_range(pl.date(1940, 1, 1), pl.date(2005, 12, 31), eager=True)
    return pl.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "sex": rng.choice(["F", "M"], n),
            "born": born.sample(n, with_replacement=True, seed=seed),
            "postcode": [f"{v:06d}" for v in rng.integers(210000, 239999, n)],
            "address": [
                f"{provinces[i]}{cities[i]}某路{j}号"
                for i, j in zip(pick, rng.integers(1, 500, n), strict=True)
            ],
            "illness": rng.choice([f"D{i}" for i in range(12)], n),
        }
    )


LARGE_QIS: dict[str, Hierarchy] = {
    "age": IntervalHierarchy(widths=(5, 10, 20)),
    "sex": SEX,
    "born": DateHierarchy(levels=("month", "year", "decade")),
    "postcode": PrefixHierarchy(lengths=(4, 2)),
    "address": AddressHierarchy(),
}


def test_kanon_when_10k_rows_then_flash_checks_a_fraction_of_the_lattice() -> None:
    spec = KAnonymitySpec(quasi_identifiers=LARGE_QIS, k=5)
    out, report = enforce_k_anonymity(_large(10_000), spec)
    assert report.k_achieved >= 5 and out.height >= 9_500
    assert report.nodes_checked < report.nodes_total / 4


@pytest.mark.slow
def test_kanon_when_100k_rows_5_qis_then_seconds_not_minutes() -> None:
    frame = _large(100_000)
    spec = KAnonymitySpec(quasi_identifiers=LARGE_QIS, k=10, sensitive="illness", l_diversity=3)
    started = time.perf_counter()
    _, report = enforce_k_anonymity(frame, spec)
    elapsed = time.perf_counter() - started
    assert report.k_achieved >= 10 and (report.l_achieved or 0) >= 3
    assert elapsed < 30, f"kanon took {elapsed:.1f} s on 100,000 rows x 5 QIs"


def _numbers(message: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", message))


def test_kanon_when_unreachable_then_message_has_spec_numbers_only_and_log_has_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 8 rows, at most floor(0.3 x 8) = 2 suppressed: neither count may reach the message.
    with (
        caplog.at_level("WARNING", logger="anonymize.kanon"),
        pytest.raises(AnonymizationError, match="allow more suppression") as err,
    ):
        enforce_k_anonymity(PAIRS, _spec(k=9, max_suppression=0.3))
    assert _numbers(str(err.value)) <= {"9", "0.3"}, str(err.value)
    assert "8 rows, at most 2 suppressed" in caplog.text


def test_kanon_when_l_exceeds_distinct_values_then_message_has_spec_numbers_only() -> None:
    # Three distinct illnesses in the whole table: l = 4 cannot be met anywhere.
    with pytest.raises(AnonymizationError, match="lower l") as err:
        enforce_k_anonymity(PAIRS, _spec(sensitive="illness", l_diversity=4))
    assert _numbers(str(err.value)) <= {"4"}, str(err.value)
