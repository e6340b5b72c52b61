"""The DP aggregate at scale through the Ray runner, against single-process polars.

    python benchmarks/dp_ray_scale.py [--rows 100000000] [--partitions 100] [--cpus 2]

Writes a partitioned synthetic dataset (people with several rows each,
split by a hash of the person as the catalog stores it), then runs the same
spec (count / sum / mean per city, ε = 1, contribution bounding) three ways in
one run: raw polars group-by over all partitions (no privacy), our engine in
one process (``jobs.kinds.aggregate.engine.evaluate``), and the service's Ray runner (one
task per partition, noise once). Prints times, ratios and the peak resident
memory of the Ray worker processes and of this process.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import psutil

from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate.engine import DatasetContext, evaluate
from jobs.runner import RayRunner, Task

CITIES = [
    "南京市",
    "无锡市",
    "徐州市",
    "常州市",
    "苏州市",
    "南通市",
    "连云港市",
    "淮安市",
    "盐城市",
    "扬州市",
    "镇江市",
    "泰州市",
    "宿迁市",
]


def write_partitions(folder: Path, rows: int, parts: int, seed: int = 3) -> None:
    """Partition p holds the people whose id ≡ p (mod parts): one person, one partition."""
    rng = np.random.default_rng(seed)
    per = rows // parts
    for p in range(parts):
        people = rng.integers(0, rows // 4 // parts, per) * parts + p
        pl.DataFrame(
            {
                "person": people,
                "city": pl.Series(np.asarray(CITIES)[people % len(CITIES)]).cast(pl.Categorical),
                "income": rng.lognormal(10.5, 0.6, per),
            }
        ).write_parquet(folder / f"part-{p:05d}.parquet")


class PeakRss:
    """Samples the summed RSS of matching processes every 50 ms."""

    def __init__(self, match: str) -> None:
        self.match, self.peak, self._stop = match, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            total = 0
            for proc in psutil.process_iter(["cmdline", "memory_info"]):
                cmd = " ".join(proc.info["cmdline"] or [])
                if self.match in cmd and proc.info["memory_info"] is not None:
                    total += proc.info["memory_info"].rss
            self.peak = max(self.peak, total)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="dp-scale-"))
    try:
        start = time.perf_counter()
        write_partitions(folder, args.rows, args.partitions)
        print(
            f"wrote {args.rows:,} rows in {args.partitions} partitions "
            f"({time.perf_counter() - start:.1f} s)"
        )
        spec_data = {
            "kind": "aggregate",
            "dataset": "d",
            "group_by": ["city"],
            "epsilon": 1.0,
            "max_rows_per_unit": 8,
            "aggregates": [
                {"op": "count"},
                {"op": "sum", "column": "income", "lower": 0, "upper": 300_000},
                {"op": "mean", "column": "income", "lower": 0, "upper": 300_000},
            ],
        }
        spec = parse_job_spec(spec_data)
        keys = {"city": CITIES}
        context = DatasetContext(
            privacy_unit="person", public_keys=keys, min_cell=10, max_rows=args.rows
        )
        glob = str(folder / "part-*.parquet")
        timings: dict[str, float] = {}

        start = time.perf_counter()
        pl.scan_parquet(glob).group_by("city").agg(
            pl.len(), pl.col("income").sum().alias("s"), pl.col("income").mean().alias("m")
        ).collect()
        timings["raw polars (no privacy)"] = time.perf_counter() - start

        start = time.perf_counter()
        evaluate(pl.scan_parquet(glob), spec, context)
        timings["ours, one process"] = time.perf_counter() - start

        runner = RayRunner(num_cpus=args.cpus, timeout_s=3600)
        runner.start()
        task = Task(
            job_id=1,
            spec=spec_data,
            inputs={"d": glob},
            row_counts={"d": args.rows},
            output_path=str(folder / "out.parquet"),
            min_cell=10,
            privacy_units={"d": "person"},
            public_keys={"d": keys},
        )
        me = psutil.Process()
        with PeakRss("ray::") as workers:
            start = time.perf_counter()
            runner.run(task)
            timings["ours, Ray runner"] = time.perf_counter() - start
        runner.stop()

        base = timings["raw polars (no privacy)"]
        for name, value in timings.items():
            print(f"  {name:<26} {value:8.2f} s   {value / base:5.2f}x raw polars")
        print(
            f"  peak RSS of Ray workers: {workers.peak / 2**30:.2f} GiB; "
            f"this process: {me.memory_info().rss / 2**30:.2f} GiB now"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
