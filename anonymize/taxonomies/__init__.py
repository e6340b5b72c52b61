"""Published classifications that give a categorical column meaningful middle levels.

A frequency grouping (rare values → ``其他``) knows nothing of what a value
means, so it can only keep a value or merge it with unrelated rare ones; a
k-anonymity search then often trades the whole column away. A taxonomy
knows that 本科 and 硕士 are both 高等教育 and that 无锡 lies in 苏南, so the
column can be released one meaningful step coarser instead.

Each :class:`Taxonomy` maps a value to its labels at each level, finest first
(the value itself is level 0, ``*`` the top level added by the hierarchy).
Any label may also stand as a value (a city column may hold ``江苏省`` where
the city is unknown): it then keeps itself up to its own level.

- :mod:`anonymize.taxonomies.divisions` — Jiangsu's cities (苏南 / 苏中 / 苏北)
  and their districts and counties (GB/T 2260), cities of neighbouring
  provinces and provincial capitals;
- :mod:`anonymize.taxonomies.education` — education levels to school stages;
- :mod:`anonymize.taxonomies.occupation` — occupations to the eight major
  groups of GB/T 6565-2015.

:data:`TAXONOMIES` lists them; :func:`coverage` measures how much of a
column one of them knows.
"""

from __future__ import annotations

from anonymize.taxonomies.base import Taxonomy, coverage
from anonymize.taxonomies.divisions import CITIES, DISTRICTS
from anonymize.taxonomies.education import EDUCATION
from anonymize.taxonomies.occupation import OCCUPATION

__all__ = ["CITIES", "DISTRICTS", "EDUCATION", "OCCUPATION", "TAXONOMIES", "Taxonomy", "coverage"]

#: Every taxonomy a column may be matched against, in order of preference on ties.
TAXONOMIES: tuple[Taxonomy, ...] = (CITIES, DISTRICTS, EDUCATION, OCCUPATION)
