"""One accountant: pure ε, zCDP ρ, approximate δ; conversions; Gaussian workloads fit more."""

from __future__ import annotations

import math
from typing import Any

import pytest
from scipy import optimize, special

from jobs.dp.accounting import (
    Accountant,
    Charge,
    bun_steinke_epsilon,
    cks_epsilon,
    cost,
    dp_to_zcdp,
    rho_for,
    zcdp_to_dp,
)
from jobs.kinds.aggregate.engine import DatasetContext, charge
from jobs.kinds.aggregate.spec import AggregateSpec
from jobs.spec import parse_job_spec
from policies.budget import PrivacyBudget
from policies.errors import BudgetExhausted, InvalidRequest


def _spec(**overrides: Any) -> AggregateSpec:
    base: dict[str, Any] = {
        "kind": "aggregate",
        "dataset": "d",
        "epsilon": 0.1,
        "aggregates": [{"op": "count"}],
    }
    return parse_job_spec(base | overrides)


def test_zcdp_to_dp_when_known_values_then_within_bun_steinke_formula() -> None:
    classical = 0.5 + 2 * math.sqrt(0.5 * math.log(1e6))
    assert bun_steinke_epsilon(0.5, 1e-6) == pytest.approx(classical)
    assert zcdp_to_dp(0.5, 1e-6) < classical  # the CKS conversion is tighter
    assert zcdp_to_dp(0.0, 1e-6) == 0.0
    assert zcdp_to_dp(0.1, 0.0) == math.inf  # no δ: zCDP gives no finite ε
    assert dp_to_zcdp(2.0) == 2.0


def _gaussian_delta(epsilon: float, sigma: float) -> float:
    """The exact δ(ε) of the Gaussian mechanism, sensitivity 1 (Balle & Wang 2018, Thm. 8).

    δ = Φ(1/(2σ) - εσ) - e^ε Φ(-1/(2σ) - εσ), in logs so that tiny δ keep their digits.
    """
    high = special.log_ndtr(1 / (2 * sigma) - epsilon * sigma)
    low = special.log_ndtr(-1 / (2 * sigma) - epsilon * sigma)
    return float(math.exp(high) * -math.expm1(epsilon + low - high))


def _gaussian_epsilon(rho: float, delta: float) -> float:
    """The exact ε at ``delta`` of the Gaussian mechanism that is exactly ρ-zCDP (ρ = 1/(2σ²))."""
    sigma = 1 / math.sqrt(2 * rho)
    if _gaussian_delta(0.0, sigma) <= delta:
        return 0.0
    return float(optimize.brentq(lambda e: _gaussian_delta(e, sigma) - delta, 0.0, 1e4, xtol=1e-14))


@pytest.mark.parametrize(
    ("rho", "delta"),
    [
        (0.5, 1e-6),  # the doctest's case
        (0.030, 1e-5),  # about what (1, 1e-5) buys
        (1e-4, 1e-7),  # a small job
        (3e-7, 1e-4),  # tiny ρ: δ near the total-variation distance
        (2.0, 1e-12),  # large ρ, tiny δ
        (50.0, 1e-3),  # very large ρ
    ],
)
def test_zcdp_to_dp_when_compared_with_the_exact_gaussian_then_valid_and_tighter(
    rho: float, delta: float
) -> None:
    converted = zcdp_to_dp(rho, delta)
    # the Gaussian mechanism is exactly ρ-zCDP: no valid conversion may claim less than its ε
    assert converted >= _gaussian_epsilon(rho, delta)
    assert converted < bun_steinke_epsilon(rho, delta)  # and tighter than the old formula
    assert converted == cks_epsilon(rho, delta)


@pytest.mark.parametrize(("epsilon", "delta"), [(1.0, 1e-5), (0.1, 1e-7), (1.0, 1e-6)])
def test_rho_for_when_cks_conversion_then_more_rho_at_the_same_epsilon(
    epsilon: float, delta: float
) -> None:
    log_term = math.log(1 / delta)
    classical = (math.sqrt(log_term + epsilon) - math.sqrt(log_term)) ** 2
    rho = rho_for(epsilon, delta)
    assert 1.26 <= rho / classical <= 1.7  # less noise for the same charge
    assert _gaussian_epsilon(rho, delta) <= epsilon  # still within ε for the exact Gaussian


@pytest.mark.parametrize(
    ("epsilon", "delta"),
    [(0.001, 1e-4), (0.1, 1e-7), (1.0, 1e-6), (10.0, 1e-12), (3.3, 5e-5)],
)
def test_rho_for_when_converted_back_then_just_within_epsilon(epsilon: float, delta: float) -> None:
    rho = rho_for(epsilon, delta)
    assert zcdp_to_dp(rho, delta) <= epsilon
    assert zcdp_to_dp(rho * (1 + 1e-6), delta) > epsilon  # and no slack left


@pytest.mark.parametrize(
    "parts",
    [
        {"epsilon": -0.1},  # negative
        {"epsilon": math.nan},  # NaN compares false with everything
        {"rho": math.inf},  # infinite
        {"rho": 0.1},  # zCDP without a conversion δ cannot be stated as (ε, δ)
        {"rho": 0.1, "conversion_delta": 1.0},  # δ must be below 1
    ],
)
def test_charge_when_invalid_then_refused(parts: dict[str, float]) -> None:
    with pytest.raises(InvalidRequest):
        Charge(**parts)


def test_cost_when_any_spec_then_exactly_what_it_declares() -> None:
    assert cost(_spec()) == (0.1, 0.0)
    assert cost(_spec(noise="gaussian", delta=1e-6, epsilon=2.0)) == (2.0, 1e-6)


@pytest.mark.parametrize(
    ("overrides", "context"),
    [
        ({}, DatasetContext()),  # Laplace, ungrouped: pure ε
        ({"group_by": ["g"], "delta": 1e-6}, DatasetContext()),  # Laplace, discovered keys
        ({"noise": "gaussian", "delta": 1e-6}, DatasetContext()),  # Gaussian, ungrouped
        ({"noise": "gaussian", "delta": 1e-6, "group_by": ["g"]}, DatasetContext()),  # discovered
        (
            {"noise": "gaussian", "delta": 1e-6, "group_by": ["g"]},
            DatasetContext(public_keys={"g": [1, 2]}),
        ),  # Gaussian over public keys
    ],
)
def test_charge_when_any_job_then_its_own_statement_fits_its_declared_cost(
    overrides: dict[str, Any], context: DatasetContext
) -> None:
    spec = _spec(**overrides)
    eps, delta = charge(spec, context).standalone
    assert eps <= spec.epsilon and delta <= spec.delta
    assert eps == pytest.approx(spec.epsilon, rel=1e-6)  # and the engine uses what it charges


def test_accountant_when_pure_epsilon_jobs_then_they_add_up_exactly() -> None:
    accountant = Accountant(PrivacyBudget(1.0))
    for _ in range(10):
        accountant.charge(charge(_spec()))  # 10 × 0.1 = 1.0 exactly in ledger units
    assert accountant.spent() == pytest.approx((1.0, 0.0))
    with pytest.raises(BudgetExhausted, match="epsilon"):
        accountant.charge(charge(_spec()))
    assert len(accountant.charges) == 10  # a refused charge is not recorded


def test_accountant_when_gaussian_heavy_workload_then_far_more_queries_than_naive_sum() -> None:
    budget = PrivacyBudget(1.0, 1e-5)
    job = _spec(noise="gaussian", epsilon=0.1, delta=1e-7)
    naive = 0  # the ledger's basic composition: Σ ε ≤ 1 and Σ δ ≤ 1e-5
    while (naive + 1) * 0.1 <= 1.0 + 1e-12 and (naive + 1) * 1e-7 <= 1e-5:
        naive += 1
    accountant = Accountant(budget)
    while accountant.can_charge(charge(job)):
        accountant.charge(charge(job))
    assert naive == 10
    assert len(accountant.charges) >= 10 * naive  # ρ adds, the converted ε grows like √n
    eps, delta = accountant.spent()
    assert eps <= 1.0 and delta <= 1e-5


def test_accountant_when_laplace_and_gaussian_mixed_then_pure_part_converted_when_better() -> None:
    accountant = Accountant(PrivacyBudget(2.0, 1e-6))
    for _ in range(40):
        accountant.charge(Charge(epsilon=0.01))  # many tiny pure-ε jobs
    accountant.charge(Charge(rho=0.01, conversion_delta=1e-7))
    eps, delta = accountant.spent()
    basic = 40 * 0.01 + zcdp_to_dp(0.01, 1e-7)
    assert eps < basic  # ε²/2 per pure job beats adding the ε's
    assert delta == 1e-6


def test_accountant_when_approximate_deltas_exhaust_the_budget_then_refused() -> None:
    accountant = Accountant(PrivacyBudget(10.0, 1e-6))
    accountant.charge(Charge(epsilon=0.1, delta=6e-7))
    with pytest.raises(BudgetExhausted, match="delta"):
        accountant.charge(Charge(epsilon=0.1, delta=6e-7))
    assert not accountant.can_charge(Charge(rho=0.01, conversion_delta=1e-7, delta=4e-7))


def test_privacy_statement_when_gaussian_aggregate_then_names_zcdp_and_the_cks_conversion() -> None:
    from sandbox.airlock.review import _privacy_statement

    spec = {"noise": "gaussian", "max_rows_per_unit": 1, "max_groups_per_unit": 1}
    statement = _privacy_statement("aggregate", spec, PrivacyBudget(1.0, 1e-5), "pid", {})
    # the manifest names where its (epsilon, delta) comes from: zCDP and the CKS conversion
    assert "Bun & Steinke 2016" in statement["accounting"]
    assert "Canonne, Kamath & Steinke 2020" in statement["accounting"]


def test_privacy_statement_when_extract_then_k_and_l_but_no_suppressed_count() -> None:
    from sandbox.airlock.review import _privacy_statement

    report = {"k_achieved": 5, "l_achieved": 2, "records_suppressed": 7, "records_in": 600}
    statement = _privacy_statement("extract", {}, PrivacyBudget(0.0, 0.0), "pid", report)
    assert statement["k"] == 5 and statement["l"] == 2
    # released rows + suppressed records = the exact input size: not in the manifest
    assert "records_suppressed" not in statement and 7 not in statement.values()
    assert 600 not in statement.values()
