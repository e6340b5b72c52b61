"""The differential-privacy core of aggregate jobs: pure computation, no service.

Map of the package:

- :mod:`jobs.dp.mechanisms` — exact integer samplers (discrete Laplace,
  discrete Gaussian; Canonne, Kamath, Steinke 2020), vectorized;
  :class:`NoiseLaw`.
- :mod:`jobs.dp.error_bars` — what a noise law implies: variance, E|Z|,
  exact 95 % half-widths; delta-method intervals for ratios.
- :mod:`jobs.dp.accounting` — :class:`Charge`, :class:`Accountant` (pure ε,
  zCDP ρ, δ; Bun & Steinke 2016), :func:`cost`.
- :mod:`jobs.dp.plan` — :class:`DatasetContext` and the calibrated
  :class:`Plan`: measurements, sensitivities, budget split.
- :mod:`jobs.dp.bounding` — at most g groups and k rows per person
  (Wilson et al. 2020).
- :mod:`jobs.dp.partition` — DP partition selection thresholds.
- :mod:`jobs.dp.exact` — exact integer measurements per group; partials and
  their merge.
- :mod:`jobs.dp.quantiles` — quantiles from a noisy tree of counts.
- :mod:`jobs.dp.release` — noise once, selection, suppression, answers.
- :mod:`jobs.dp.estimate` — cost and accuracy before running.

The public entry points are in :mod:`jobs.kinds.aggregate.engine`.
"""

from jobs.dp.accounting import Accountant, Charge, cost
from jobs.dp.mechanisms import NoiseLaw
from jobs.dp.plan import DatasetContext, Plan

__all__ = ["Accountant", "Charge", "DatasetContext", "NoiseLaw", "Plan", "cost"]
