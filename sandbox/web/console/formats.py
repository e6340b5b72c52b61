"""How the console writes numbers: grouped, never in scientific notation; ε and δ rounded.

Jinja filters (registered by :func:`register`): ``num`` (a count or a measure),
``eps`` (an ε) and ``delta`` (a δ). Display only: the stored values stay exact.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from jinja2 import Environment

#: Significant digits of a measure that is not a whole number.
SIGNIFICANT = 4


def plain(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, grouped, without an exponent.

    >>> plain(35740.1234, 6), plain(3.574e4, 4), plain(-1.5e-7, 2)
    ('35,740.1', '35,740', '-0.00000015')
    """
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    rounded = Decimal(repr(float(f"{value:.{digits}g}")))
    whole = rounded == rounded.to_integral_value()
    text = f"{rounded:,.0f}" if whole else f"{rounded:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def num(value: Any) -> str:
    """A count grouped by thousands, a measure to :data:`SIGNIFICANT` digits, never ``1e+06``.

    >>> num(3666440), num(1.200000001), num(0.000123456), num(None)
    ('3,666,440', '1.2', '0.0001235', '—')
    """
    if value is None or isinstance(value, bool):
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return plain(value, SIGNIFICANT)
    return str(value)


def eps(value: Any) -> str:
    """An ε rounded for display (3 significant digits).

    >>> eps(1.0), eps(0.30000000000000004), eps(0.0)
    ('1', '0.3', '0')
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    return plain(float(value), 3)


def delta(value: Any) -> str:
    """A δ rounded for display (2 significant digits, no exponent).

    >>> delta(1e-6), delta(0), delta(2.0000001e-7)
    ('0.000001', '0', '0.0000002')
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    return plain(float(value), 2)


def register(env: Environment) -> None:
    """Add the filters to a template environment."""
    env.filters["num"] = num
    env.filters["eps"] = eps
    env.filters["delta"] = delta
