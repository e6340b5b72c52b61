"""Inside a two-node Ray cluster: partitioned evaluation equals single-process evaluation.

Run by tests/integration/test_ray_cluster.py in a private PID namespace,
after ``ray start --head`` and a second ``ray start --address`` node. Prints
one JSON line with what it saw; exits non-zero on any mismatch.

With a second argument ``s3://bucket/prefix`` the partitions are objects
there and the output goes to quarantine there: each node's workers reach the
server through their own node's ``AWS_*`` environment (the task carries none).
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl
import ray

from jobs import storage
from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate.engine import DatasetContext, combine_partials, evaluate, exact_partials
from jobs.runner import RayRunner, Task
from jobs.task import partition_files

address = sys.argv[1]
local = Path(tempfile.mkdtemp())
store = sys.argv[2] if len(sys.argv) > 2 else str(local)
rng = np.random.default_rng(11)
n = 60_000
people = rng.integers(0, 20_000, n)  # several rows per person
frame = pl.DataFrame(
    {
        "person": [f"p{i}" for i in people],
        "city": rng.choice(["南京市", "苏州市", "无锡市", "常州市"], n),
        "income": rng.lognormal(10.5, 0.5, n),
    }
)
parts = 6
part = frame.with_columns((pl.col("person").hash(seed=1) % parts).alias("__p"))
for i in range(parts):
    part.filter(pl.col("__p") == i).drop("__p").write_parquet(local / f"part-{i:05d}.parquet")
    if storage.is_remote(store):
        name = f"part-{i:05d}.parquet"
        storage.put_file(local / name, storage.join(store, "datasets", "d", name))
remote = storage.is_remote(store)
inputs = (
    storage.join(store, "datasets", "d", "part-*.parquet") if remote else f"{local}/part-*.parquet"
)

spec_data = {
    "kind": "aggregate",
    "dataset": "d",
    "group_by": ["city"],
    "epsilon": 1.0,
    "max_rows_per_unit": 2,
    "aggregates": [
        {"op": "count"},
        {"op": "sum", "column": "income", "lower": 0, "upper": 200_000},
        {"op": "mean", "column": "income", "lower": 0, "upper": 200_000},
    ],
}
spec = parse_job_spec(spec_data)
keys = {"city": ["南京市", "苏州市", "无锡市", "常州市"]}
context = DatasetContext(privacy_unit="person", public_keys=keys, min_cell=10, max_rows=n)

ray.init(address=address, log_to_driver=False, include_dashboard=False)
nodes = [x for x in ray.nodes() if x["Alive"]]


# SPREAD: one partition a node even when one node is free first (a loaded machine)
@ray.remote(num_cpus=1, scheduling_strategy="SPREAD")
def partial_on_node(path: str) -> tuple[str, object, bool]:
    table = exact_partials(storage.scan_parquet(path), spec, context)
    reached = storage.S3Access.from_environment().endpoint_url is not None
    return ray.get_runtime_context().get_node_id(), table.to_arrow(), reached


files = partition_files(inputs)
results = ray.get([partial_on_node.remote(f) for f in files])
used_nodes = {node for node, _, _ in results}
from_environment = sorted({node for node, _, reached in results if reached})
combined = combine_partials([pl.DataFrame(pl.from_arrow(t)) for _, t, _ in results], spec)
single = exact_partials(frame.lazy(), spec, context)
order = list(spec.group_by)
exact_equal = combined.sort(order).equals(single.sort(order))

# The service's runner on the same cluster, with a fixed seed, gives the
# single-process answer exactly (noise included).
runner = RayRunner(address=address, timeout_s=120)
task = Task(
    job_id=1,
    spec=spec_data,
    inputs={"d": inputs},
    row_counts={"d": n},
    output_path=storage.join(store, "quarantine", "job-1-a1.parquet"),
    min_cell=10,
    seed=5,
    privacy_units={"d": "person"},
    public_keys={"d": keys},
)
outcome = runner.run(task)
expected = evaluate(frame.lazy(), spec, context, seed=5).table
released_equal = storage.scan_parquet(outcome.output_path).collect().equals(expected)

print(
    json.dumps(
        {
            "nodes": len(nodes),
            "nodes_used": len(used_nodes),
            "exact_equal": exact_equal,
            "released_equal": released_equal,
            "outcome": asdict(outcome)["rows"],
            "partitions": len(files),
            "output": outcome.output_path,
            "nodes_with_storage_environment": len(from_environment),
        }
    )
)
sys.exit(0 if (len(nodes) == 2 and len(files) == parts and exact_equal and released_equal) else 1)
