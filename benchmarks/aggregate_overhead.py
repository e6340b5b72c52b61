"""Cost of privacy in the aggregate evaluator: ours vs raw polars, same run.

    python benchmarks/aggregate_overhead.py [--rows N] [--groups G] [--repeat R]

Prints the median time of each and the ratio (ours / raw polars).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import polars as pl

from jobs.aggregate import evaluate
from jobs.spec import parse_job_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--groups", type=int, default=13)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    frame = pl.DataFrame({
        "city": rng.integers(0, args.groups, args.rows),
        "income": rng.lognormal(10.5, 0.6, args.rows),
    })
    spec = parse_job_spec({
        "kind": "aggregate", "dataset": "bench", "group_by": ["city"], "epsilon": 1.0,
        "aggregates": [{"op": "count"}, {"op": "sum", "column": "income", "lower": 0,
                                         "upper": 500_000},
                       {"op": "mean", "column": "income", "lower": 0, "upper": 500_000}],
    })

    def raw() -> object:
        return (frame.lazy().group_by("city")
                .agg(pl.len(), pl.col("income").sum().alias("s"),
                     pl.col("income").mean().alias("m"))
                .collect())

    def ours() -> object:
        return evaluate(frame.lazy(), spec, min_cell=10, max_rows=args.rows)

    timings: dict[str, list[float]] = {"raw polars": [], "ours": []}
    for _ in range(args.repeat):
        for name, fn in (("raw polars", raw), ("ours", ours)):
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in timings.items()}
    print(f"rows={args.rows:,} groups={args.groups} repeat={args.repeat}")
    for name, value in med.items():
        print(f"  {name:<11} {value * 1000:8.1f} ms")
    print(f"  ratio ours / raw polars: {med['ours'] / med['raw polars']:.2f}x")


if __name__ == "__main__":
    main()
