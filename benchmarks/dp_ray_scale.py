"""The DP aggregate at scale through the Ray runner, against single-process polars.

    python benchmarks/dp_ray_scale.py [--rows 100000000] [--partitions 100] [--cpus 2]
                                      [--repeat 1] [--two-node | --address HOST:PORT]

Writes a partitioned synthetic dataset (people with several rows each,
split by a hash of the person as the catalog stores it), then runs the same
spec (count / sum / mean per city, ε = 1, contribution bounding) three ways in
one run: raw polars group-by over all partitions (no privacy), our engine in
one process (``jobs.kinds.aggregate.engine.evaluate_partitioned``: partition by partition,
as the in-process runner does), and the service's Ray runner (one
task per partition, noise once). Prints times (best and median over
``--repeat`` runs), ratios, the load average, and the peak resident memory of
the Ray workers (their sum, and the largest single worker) and of this process.

``--two-node`` runs the same inside a private PID namespace holding a local
two-node cluster (``ray start --head`` and a joining node, one CPU each,
dashboard off), as ``tests/integration/test_ray_cluster.py`` does; ``ray stop``
there reaches only that cluster, and the namespace's end removes whatever is
left. Needs root and ``unshare``. ``--address`` joins an existing cluster.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import psutil

from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate.engine import DatasetContext, evaluate_partitioned
from jobs.kinds.aggregate.spec import AggregateSpec
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
    """Partition p holds the people whose id ≡ p (mod parts): one person, one partition.

    Each partition sorted by person, as the catalog stores it
    (``sandbox.catalog.datasets``).
    """
    rng = np.random.default_rng(seed)
    per = rows // parts
    for p in range(parts):
        people = np.sort(rng.integers(0, rows // 4 // parts, per) * parts + p)
        pl.DataFrame(
            {
                "person": people,
                "city": pl.Series(np.asarray(CITIES)[people % len(CITIES)]).cast(pl.Categorical),
                "income": rng.lognormal(10.5, 0.6, per),
            }
        ).write_parquet(folder / f"part-{p:05d}.parquet")


class PeakRss:
    """Samples the RSS of matching processes every 50 ms: peak of the sum, peak of each.

    Ray's per-node agents (``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) are
    not workers and are left out.
    """

    def __init__(self, match: str) -> None:
        self.match, self.peak, self._stop = match, 0, threading.Event()
        self.each: dict[int, int] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            total = 0
            for proc in psutil.process_iter(["pid", "cmdline", "memory_info"]):
                cmd = " ".join(proc.info["cmdline"] or [])
                worker = self.match in cmd and not cmd.rstrip().endswith("Agent")
                if worker and proc.info["memory_info"] is not None:
                    rss = proc.info["memory_info"].rss
                    total += rss
                    self.each[proc.info["pid"]] = max(self.each.get(proc.info["pid"], 0), rss)
            self.peak = max(self.peak, total)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _two_node(args: argparse.Namespace) -> int:
    """Re-run this script against a local two-node cluster in a private PID namespace."""
    ray = Path(sys.executable).with_name("ray")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # AF_UNIX socket paths are limited to 107 bytes: a short folder of our own
    temp = Path(tempfile.mkdtemp(prefix="r2n-", dir="/tmp"))
    inner = [sys.executable, __file__, "--address", f"127.0.0.1:{port}"]
    inner += ["--rows", str(args.rows), "--partitions", str(args.partitions)]
    inner += ["--repeat", str(args.repeat)]
    script = f"""
set -eu
export RAY_AUTH_MODE=token
{ray} start --head --port={port} --num-cpus=1 --include-dashboard=false \\
    --node-ip-address=127.0.0.1 --temp-dir={temp} --disable-usage-stats >/dev/null
{ray} start --address=127.0.0.1:{port} --num-cpus=1 --node-ip-address=127.0.0.1 \\
    --disable-usage-stats >/dev/null
echo "two-node cluster up: head + one node, 1 CPU each"
status=0
{shlex.join(inner)} || status=$?
{ray} stop --force >/dev/null 2>&1 || true
exit $status
"""
    try:
        return subprocess.run(
            ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "bash", "-c", script],
            check=False,
        ).returncode
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--two-node", action="store_true")
    where.add_argument("--address", default=None)
    args = parser.parse_args()
    if args.two_node:
        sys.exit(_two_node(args))

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
        assert isinstance(spec, AggregateSpec)
        keys = {"city": CITIES}
        context = DatasetContext(
            privacy_unit="person", public_keys=keys, min_cell=10, max_rows=args.rows
        )
        glob = str(folder / "part-*.parquet")
        timings: dict[str, list[float]] = {}
        print(f"  before: {_load()}")

        timings["raw polars (no privacy)"] = _timed(
            lambda: (
                pl.scan_parquet(glob)
                .group_by("city")
                .agg(
                    pl.len(), pl.col("income").sum().alias("s"), pl.col("income").mean().alias("m")
                )
                .collect()
            ),
            args.repeat,
        )
        files = sorted(str(f) for f in folder.glob("part-*.parquet"))
        timings["ours, one process"] = _timed(
            lambda: evaluate_partitioned((pl.scan_parquet(f) for f in files), spec, context),
            args.repeat,
        )

        runner = RayRunner(address=args.address, num_cpus=args.cpus, timeout_s=3600)
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
            timings["ours, Ray runner"] = _timed(lambda: runner.run(task), args.repeat)
        runner.stop()

        cluster = "two-node cluster" if args.address else f"local Ray, {args.cpus} CPUs"
        print(f"rows={args.rows:,} partitions={args.partitions} repeat={args.repeat} ({cluster})")
        base = min(timings["raw polars (no privacy)"])
        for name, values in timings.items():
            best, median = min(values), statistics.median(values)
            print(
                f"  {name:<26} best {best:8.2f} s  median {median:8.2f} s   "
                f"{best / base:5.2f}x raw polars (best)"
            )
        one, ray_best = min(timings["ours, one process"]), min(timings["ours, Ray runner"])
        print(f"  one process / Ray runner: {one / ray_best:.2f}x (best)")
        print(
            f"  peak RSS of Ray workers: {workers.peak / 2**30:.2f} GiB summed, "
            f"{max(workers.each.values(), default=0) / 2**30:.2f} GiB the largest of "
            f"{len(workers.each)} worker processes; "
            f"this process: {me.memory_info().rss / 2**30:.2f} GiB now"
        )
        print(f"  after: {_load()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
