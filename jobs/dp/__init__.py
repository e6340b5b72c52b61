"""The differential-privacy primitives the kinds share: pure computation, no service.

Map of the package:

- :mod:`jobs.dp.mechanisms` — exact integer samplers (discrete Laplace,
  discrete Gaussian; Canonne, Kamath, Steinke 2020), vectorized;
  :class:`NoiseLaw`.
- :mod:`jobs.dp.error_bars` — what a noise law implies: variance, E|Z|,
  exact 95 % half-widths; delta-method intervals for ratios.
- :mod:`jobs.dp.accounting` — :class:`Charge`, :class:`Accountant` (pure ε,
  zCDP ρ, δ; Bun & Steinke 2016).
- :mod:`jobs.dp.partition` — DP partition selection thresholds.

The aggregate query engine built on them (plan → exact partials → noise once →
release) is the aggregate kind's: ``jobs/kinds/aggregate/``.
"""

from jobs.dp.accounting import Accountant, Charge
from jobs.dp.mechanisms import NoiseLaw

__all__ = ["Accountant", "Charge", "NoiseLaw"]
