"""PrivacyBudget validation, ledger units, and the spending rule as a property."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.dp.accounting import Accountant, Charge
from policies.budget import (
    EPSILON_UNIT,
    PrivacyBudget,
    delta_units,
    epsilon_units,
)
from policies.errors import BudgetExhausted, InvalidRequest


@pytest.mark.parametrize(
    ("epsilon", "delta"),
    [
        (math.nan, 0.0),  # NaN ε compares false with every bound
        (math.inf, 0.0),  # infinite ε is no guarantee
        (-math.inf, 0.0),
        (-0.1, 0.0),  # negative ε
        (1000.5, 0.0),  # beyond MAX_EPSILON
        (1.0, math.nan),  # NaN δ
        (1.0, math.inf),  # infinite δ
        (1.0, -1e-9),  # negative δ
        (1.0, 1.0),  # δ = 1 allows total failure
        (1.0, 1.5),  # δ > 1 is not a probability
    ],
)
def test_privacy_budget_when_invalid_then_invalid_request(epsilon: float, delta: float) -> None:
    with pytest.raises(InvalidRequest):
        PrivacyBudget(epsilon, delta)


@pytest.mark.parametrize(
    ("epsilon", "delta"),
    [
        (0.0, 0.0),  # an empty budget is valid
        (1000.0, 0.0),  # the largest ε
        (1.0, 0.999),  # δ just under 1
    ],
)
def test_privacy_budget_when_at_bounds_then_accepted(epsilon: float, delta: float) -> None:
    assert PrivacyBudget(epsilon, delta).epsilon == epsilon


@pytest.mark.parametrize(
    ("epsilon", "units"),
    [
        (1.0, EPSILON_UNIT),  # whole ε
        (0.1, 10**8),  # 0.1 is not exact in binary, but is exact in units
        (0.3, 3 * 10**8),  # 0.3 as written, not its binary expansion
        (1e-10, 1),  # a tenth of a unit costs a whole unit
        (1.5e-9, 2),  # a unit and a half costs two
        (2.000000001, 2 * EPSILON_UNIT + 1),  # one unit above 2
        (0.0, 0),  # free
    ],
)
def test_epsilon_units_when_fractional_then_rounded_up(epsilon: float, units: int) -> None:
    assert epsilon_units(epsilon) == units
    assert PrivacyBudget(epsilon).units[0] == units


@pytest.mark.parametrize(
    ("delta", "units"),
    [
        (1e-6, 10**12),  # a usual δ
        (5e-19, 1),  # half a unit costs a whole unit
        (1.5e-18, 2),
        (0.0, 0),
    ],
)
def test_delta_units_when_fractional_then_rounded_up(delta: float, units: int) -> None:
    assert delta_units(delta) == units
    assert PrivacyBudget(1.0, delta).units[1] == units


def test_privacy_budget_when_added_then_units_add_exactly() -> None:
    total = PrivacyBudget(0.1, 1e-7) + PrivacyBudget(0.2, 2e-7)
    assert total.units == (3 * 10**8, 3 * 10**11)
    assert PrivacyBudget.from_units(*total.units) == total


def _charge(cost: PrivacyBudget) -> Charge:
    return Charge(epsilon=cost.epsilon, delta=cost.delta)


# The live spending rule is the accountant's (the ledger asks it under its lock).
def test_accountant_when_ten_tenths_then_exactly_fill_one() -> None:
    acc, tenth = Accountant(PrivacyBudget(1.0)), Charge(epsilon=0.1)
    for _ in range(10):
        acc.check_can_charge(tenth)
        acc.charge(tenth)
    assert epsilon_units(acc.spent()[0]) == PrivacyBudget(1.0).units[0]
    with pytest.raises(BudgetExhausted):
        acc.check_can_charge(Charge(epsilon=1e-9))


def test_accountant_when_fifty_tenths_then_exactly_fill_five() -> None:
    # The module's own promise: fifty jobs of ε = 0.1 add up to exactly 5.
    spent = PrivacyBudget(0.0)
    for _ in range(50):
        spent = spent + PrivacyBudget(0.1)
    assert spent.units[0] == 5 * EPSILON_UNIT
    assert Accountant(PrivacyBudget(5.0)).can_charge(_charge(spent))
    acc = Accountant(PrivacyBudget(5.0), [Charge(epsilon=0.1)] * 49)
    assert acc.can_charge(Charge(epsilon=0.1))


_EPSILONS = st.one_of(
    st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 1 / 3, 0.5, 1.0]),
    st.floats(min_value=0.0, max_value=3.0, allow_nan=False, allow_infinity=False),
)
_DELTAS = st.one_of(
    st.just(0.0),
    st.floats(min_value=0.0, max_value=1e-5, allow_nan=False, allow_infinity=False),
)
_PROPERTY = settings(max_examples=300, deadline=None, database=None)


@_PROPERTY
@given(
    total_epsilon=st.floats(min_value=0.0, max_value=10.0, allow_nan=False),
    costs=st.lists(_EPSILONS, max_size=40),
)
def test_accountant_when_charging_epsilons_in_sequence_then_refuses_what_overspends(
    total_epsilon: float, costs: list[float]
) -> None:
    total = PrivacyBudget(total_epsilon)
    acc = Accountant(total)
    for epsilon in costs:
        charge = Charge(epsilon=epsilon)
        fits = epsilon_units(acc.spent(charge)[0]) <= total.units[0]
        assert acc.can_charge(charge) is (fits or epsilon == 0.0)  # refuses overspending only
        if not acc.can_charge(charge):
            with pytest.raises(BudgetExhausted):
                acc.check_can_charge(charge)
            continue
        acc.charge(charge)
        assert epsilon_units(acc.spent()[0]) <= total.units[0]


@_PROPERTY
@given(
    total_epsilon=st.floats(min_value=0.0, max_value=10.0, allow_nan=False),
    total_delta=st.floats(min_value=0.0, max_value=1e-4, allow_nan=False),
    costs=st.lists(st.tuples(_EPSILONS, _DELTAS), max_size=40),
)
def test_accountant_when_charging_in_sequence_then_spend_never_exceeds_total(
    total_epsilon: float, total_delta: float, costs: list[tuple[float, float]]
) -> None:
    total = PrivacyBudget(total_epsilon, total_delta)
    acc = Accountant(total)
    for epsilon, delta in costs:
        charge = Charge(epsilon=epsilon, delta=delta)
        if not acc.can_charge(charge):
            continue
        acc.charge(charge)
        eps, spent_delta = acc.spent()
        assert epsilon_units(eps) <= total.units[0]
        assert delta_units(spent_delta) <= total.units[1]


@_PROPERTY
@given(epsilon=st.floats(min_value=0.0, max_value=1000.0, allow_nan=False))
def test_epsilon_units_when_any_epsilon_then_never_under_charge(epsilon: float) -> None:
    exact = Fraction(epsilon) * EPSILON_UNIT
    units = epsilon_units(epsilon)
    # At least ε, up to float noise (1e-3 of a unit, far below one unit) ...
    assert units >= exact - Fraction(1, 1000)
    assert units < exact + 1 + Fraction(1, 1000)  # ... and never a whole unit too many


@_PROPERTY
@given(
    units=st.integers(min_value=0, max_value=1000 * EPSILON_UNIT),
    delta=st.integers(min_value=0, max_value=10**15 - 1),
)  # δ < 1e-3: any realistic δ
def test_privacy_budget_from_units_when_round_trip_then_same_units(units: int, delta: int) -> None:
    assert PrivacyBudget.from_units(units, delta).units == (units, delta)
