"""k-anonymity under ARX's precomputed non-uniform entropy: hand-checked toys, ARX's Adult."""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymize.errors import AnonymizationError
from anonymize.hierarchies import Hierarchy, MapHierarchy, TableHierarchy
from anonymize.kanon import KAnonymitySpec, enforce_k_anonymity
from anonymize.nu_entropy import non_uniform_entropy
from tests.unit.anonymize.test_kanon import _random_spec, _table, rows

#: The shared benchmark beside the repository (/work/shared when the repo is /work/main).
ADULT = Path(__file__).resolve().parents[3] / ".." / "shared" / "benchmarks" / "adult-arx"
#: Where the workplace keeps it, for a clone that does not sit beside it (CI's clean clone).
WORKPLACE = Path("/work/shared/benchmarks/adult-arx")


# Four people in two pairs of ages; a decade band makes classes of 4.
TOY = pl.DataFrame(
    {
        "sex": ["M", "M", "M", "M", "F", "F", "F", "F"],
        "age": ["20", "20", "21", "21", "30", "30", "31", "31"],
    }
)
TOY_QIS: dict[str, Hierarchy] = {
    "sex": TableHierarchy.from_csv("M;*\nF;*\n"),
    "age": TableHierarchy.from_csv("20;20-29;*\n21;20-29;*\n30;30-39;*\n31;30-39;*\n"),
}


def test_kanon_when_entropy_metric_then_cheapest_anonymous_node_and_its_bits() -> None:
    spec = KAnonymitySpec(
        quasi_identifiers=TOY_QIS, k=4, max_suppression=0, metric="non_uniform_entropy"
    )
    out, report = enforce_k_anonymity(TOY, spec)
    # (sex 0, age 1): classes (M, 20-29) and (F, 30-39) of 4; each age value (2 records)
    # merges into a band of 4: 4 * 2 log2(4/2) = 8 bits. Sex to '*' alone leaves classes
    # of 2; (sex 1, age 1) costs 8 more (2 * 4 log2(8/4)), age to '*' 16 (4 * 2 log2(8/2)).
    assert report.levels == {"sex": 0, "age": 1}
    assert report.information_loss == 8.0
    assert report.metric.startswith("non-uniform entropy")
    assert (report.rows_suppressed, report.equivalence_classes) == (0, 2)
    assert out["age"].to_list() == ["20-29"] * 4 + ["30-39"] * 4


def test_kanon_when_entropy_metric_then_suppression_costs_nothing() -> None:
    # The last woman is 41, alone in her band: with one record allowed out, the bands
    # node (sex 0, age 1) has classes of 4, 3 and 1, and the 1 is suppressed.
    frame = TOY.with_columns(pl.Series("age", ["20", "20", "21", "21", "30", "30", "31", "41"]))
    bands = "20;20-29;*\n21;20-29;*\n30;30-39;*\n31;30-39;*\n41;40-49;*\n"
    qis: dict[str, Hierarchy] = dict(TOY_QIS, age=TableHierarchy.from_csv(bands))
    spec = KAnonymitySpec(
        quasi_identifiers=qis, k=3, max_suppression=0.2, metric="non_uniform_entropy"
    )
    _, report = enforce_k_anonymity(frame, spec)
    assert report.levels == {"sex": 0, "age": 1}
    assert report.rows_suppressed == 1
    # The loss counts the generalization of all 8 records, the suppressed one's too:
    # 20 and 21 (2 each) into a band of 4: 2 + 2 bits; 30 (2) and 31 (1) into 3:
    # 2 log2(3/2) + log2(3); 41 alone in its band: 0.
    age = 4 + 2 * math.log2(3 / 2) + math.log2(3)
    assert report.information_loss == math.floor(age * 1e10) / 1e10


def _brute_force_entropy(frame: pl.DataFrame, spec: KAnonymitySpec) -> float | None:
    """Least non-uniform entropy over every anonymous node, each evaluated from scratch."""
    qis = list(spec.quasi_identifiers)
    limit = math.floor(spec.max_suppression * frame.height)
    best: float | None = None
    for node in itertools.product(*(range(h.height + 1) for h in spec.quasi_identifiers.values())):
        generalized = frame.with_columns(
            spec.quasi_identifiers[q].expr(q, level) for q, level in zip(qis, node, strict=True)
        )
        fails = pl.len().over(qis) < spec.k
        if spec.l_diversity is not None:
            fails |= pl.col("illness").n_unique().over(qis) < spec.l_diversity
        if generalized.select(fails).to_series().sum() > limit:
            continue
        loss = non_uniform_entropy(frame, generalized, qis)
        best = loss if best is None else min(best, loss)
    return best


@given(rows, st.integers(2, 6), st.sampled_from([0.0, 0.1, 0.3]), st.sampled_from([None, 2]))
@settings(max_examples=15, deadline=None)
def test_kanon_when_entropy_metric_on_random_table_then_brute_force_optimum(
    data: list[tuple[int, str, str, str]],
    k: int,
    max_suppression: float,
    l_diversity: int | None,
) -> None:
    frame = _table(data)
    spec = _random_spec(k, max_suppression, l_diversity, metric="non_uniform_entropy")
    best = _brute_force_entropy(frame, spec)
    if best is None:
        with pytest.raises(AnonymizationError):
            enforce_k_anonymity(frame, spec)
        return
    _, report = enforce_k_anonymity(frame, spec)
    assert report.information_loss == pytest.approx(best, rel=1e-12, abs=1e-9)


# --- ARX's Adult benchmark ---------------------------------------------------------------


def _adult() -> tuple[pl.DataFrame, dict[str, Hierarchy], dict[str, Any]]:
    candidates = [os.environ.get("ADULT_ARX_DIR"), ADULT, WORKPLACE]
    folder = next(
        (Path(c) for c in candidates if c and (Path(c) / "expected.json").is_file()), ADULT
    )
    if not (folder / "expected.json").is_file():
        pytest.skip(f"ARX's Adult benchmark is not at {folder} (the shared benchmarks folder)")
    expected = json.loads((folder / "expected.json").read_text())
    frame = pl.read_csv(folder / "adult.csv", separator=";", infer_schema=False)
    hierarchies: dict[str, Hierarchy] = {
        q: TableHierarchy.from_csv((folder / f"adult_hierarchy_{q}.csv").read_text())
        for q in expected["qi_order"]
    }
    return frame, hierarchies, expected


def test_kanon_when_arx_adult_k5_suppression_4_percent_then_arx_optimum() -> None:
    frame, hierarchies, expected = _adult()
    spec = KAnonymitySpec(
        quasi_identifiers=hierarchies,
        k=expected["k"],
        max_suppression=expected["suppression_limit"],
        metric="non_uniform_entropy",
    )
    out, report = enforce_k_anonymity(frame, spec)
    assert list(report.levels.values()) == expected["expected_levels"]
    assert report.information_loss == pytest.approx(expected["expected_information_loss"], rel=1e-9)
    assert report.rows_suppressed == expected["suppressed_records"]
    assert report.equivalence_classes == expected["equivalence_classes"]
    assert report.nodes_total == expected["lattice_nodes"]
    assert out.height == frame.height - report.rows_suppressed


@pytest.mark.parametrize(
    ("k", "suppression", "loss", "levels"),
    [
        # ARX's TestAnonymizationKAnonymity, the other Adult cases of the same metric.
        (100, 0.04, 379417.3460570988, [1, 1, 1, 1, 3, 2, 2, 1, 1]),
        (5, 0.0, 407289.5388925293, [1, 2, 1, 1, 3, 2, 2, 1, 1]),
        (100, 0.0, 453196.8932458743, [0, 4, 1, 1, 3, 2, 2, 1, 1]),
    ],
)
def test_kanon_when_arx_adult_other_cases_then_arx_optimum(
    k: int, suppression: float, loss: float, levels: list[int]
) -> None:
    frame, hierarchies, _ = _adult()
    spec = KAnonymitySpec(
        quasi_identifiers=hierarchies,
        k=k,
        max_suppression=suppression,
        metric="non_uniform_entropy",
    )
    _, report = enforce_k_anonymity(frame, spec)
    assert list(report.levels.values()) == levels
    assert report.information_loss == pytest.approx(loss, rel=1e-9)


def test_kanon_when_unknown_metric_then_validation_fails() -> None:
    with pytest.raises(ValueError, match="metric"):
        KAnonymitySpec.model_validate(
            {
                "quasi_identifiers": {"sex": MapHierarchy(levels=({"F": "p"},))},
                "k": 2,
                "metric": "x",
            }
        )
