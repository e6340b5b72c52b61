"""Vetted noise only: production code never draws raw floating-point noise.

Textbook Laplace or Gaussian noise on doubles leaks the input through the
low bits of the output (Mironov 2012), so DP noise comes only from
:mod:`jobs.dp.mechanisms` (exact integer samplers). This test reads the
syntax tree of every module in ``policies``, ``anonymize``, ``jobs`` and
``sandbox`` and fails on anything that draws Laplace or normal noise
directly: ``numpy.random.laplace`` / ``normal`` (module or Generator),
``random.gauss``, scipy ``.rvs`` draws, and diffprivlib's floating-point
mechanisms. A line that draws such numbers for something other than privacy
(synthetic demo data) says so with ``# not-dp-noise: <reason>``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["policies", "anonymize", "jobs", "sandbox"]
ALLOW_MARK = "# not-dp-noise:"
#: Methods that draw Laplace / normal noise (numpy module and Generator, random, scipy.stats).
BANNED_ATTRIBUTES = frozenset(
    {"laplace", "normal", "standard_normal", "gauss", "normalvariate", "rvs"}
)
BANNED_IMPORTS = {
    "numpy.random": frozenset({"laplace", "normal", "standard_normal"}),
    "random": frozenset({"gauss", "normalvariate"}),
    "scipy.stats": frozenset({"laplace"}),
    # diffprivlib's continuous mechanisms add float noise (its Geometric and Snapping do not)
    "diffprivlib.mechanisms": frozenset(
        {
            "Laplace",
            "LaplaceTruncated",
            "LaplaceFolded",
            "LaplaceBoundedDomain",
            "Gaussian",
            "GaussianAnalytic",
            "Staircase",
        }
    ),
}
BANNED_MECHANISMS = BANNED_IMPORTS["diffprivlib.mechanisms"]


def raw_noise(source: str) -> list[tuple[int, str]]:
    """(line, what) for every raw-noise use in ``source`` not marked as non-DP."""
    lines = source.splitlines()
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        what = None
        if isinstance(node, ast.Attribute) and node.attr in BANNED_ATTRIBUTES:
            what = f".{node.attr}"
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in BANNED_MECHANISMS
            and isinstance(node.value, ast.Name | ast.Attribute)
        ):
            what = f"diffprivlib {node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module in BANNED_IMPORTS:
            names = {a.name for a in node.names} & BANNED_IMPORTS[node.module]
            what = f"from {node.module} import {', '.join(sorted(names))}" if names else None
        if what and ALLOW_MARK not in lines[node.lineno - 1]:
            found.append((node.lineno, what))
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "import numpy as np\nnp.random.laplace(0, 1)",  # the module-level sampler
        "import numpy\nnumpy.random.normal(size=3)",  # spelled out
        "import numpy as np\nnp.random.default_rng().laplace(0, 1)",  # a Generator, chained
        "rng = make()\nnoise = rng.normal(0, 2, 10)",  # a Generator in a variable
        "import random\nrandom.gauss(0, 1)",  # the standard library
        "from random import gauss",  # imported by name
        "from numpy.random import laplace as lap",  # renamed
        "from scipy import stats\nstats.laplace.rvs(size=4)",  # scipy draws
        "from scipy.stats import norm\nnorm.rvs()",  # scipy draws, another law
        "from diffprivlib.mechanisms import Laplace",  # float mechanism
        "import diffprivlib\ndiffprivlib.mechanisms.GaussianAnalytic(epsilon=1, delta=0.1, "
        "sensitivity=1)",  # by attribute
        "f = np.random.normal",  # a reference, not only a call
    ],
)
def test_raw_noise_when_snippet_draws_float_noise_then_flagged(snippet: str) -> None:
    assert raw_noise(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "from jobs.dp.mechanisms import NoiseLaw\nNoiseLaw.discrete_laplace(1, eps).sample(rng, 3)",
        "from diffprivlib.mechanisms import Geometric, Snapping",  # vetted ones
        "rng.lognormal(10, 0.5)  # demo incomes",  # not a DP noise law
        "rng.normal(0, 1)  # not-dp-noise: synthetic demo heights",  # explicitly marked
        "from scipy.stats import norm\nnorm.ppf(0.975)",  # quantiles are not draws
        "rng.integers(0, 10)",  # uniform integers feed the exact samplers
    ],
)
def test_raw_noise_when_snippet_is_vetted_or_not_noise_then_passes(snippet: str) -> None:
    assert raw_noise(snippet) == []


def test_production_code_when_scanned_then_draws_no_raw_noise() -> None:
    files = [f for package in PACKAGES for f in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 20  # the scan sees the real tree
    offenders = {
        f"{f.relative_to(ROOT)}:{line}": what
        for f in files
        for line, what in raw_noise(f.read_text(encoding="utf-8"))
    }
    assert offenders == {}, (
        "draw DP noise with jobs.dp.mechanisms.NoiseLaw, or mark non-DP draws "
        f"with '{ALLOW_MARK} <reason>'"
    )
