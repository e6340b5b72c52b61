"""The Ray runner on a real two-node cluster (``ray start --head`` plus a joining node)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.moto_s3 import environment, new_bucket, s3_server

pytestmark = [pytest.mark.ray, pytest.mark.slow]
SCRIPT = Path(__file__).parent / "scripts" / "two_node_check.py"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_runner_when_two_node_cluster_then_partitioned_equals_single_process(tmp_path: Path):
    seen = _two_nodes({})
    assert seen["nodes"] == 2
    assert seen["nodes_used"] == 2  # partitions really ran on both nodes
    assert seen["exact_equal"] and seen["released_equal"]


def test_runner_when_partitions_are_in_object_storage_then_both_nodes_read_them(tmp_path: Path):
    """The same run with partitions and quarantine in a local S3 server (moto): no shared
    folder; each node's workers reach the server through their node's environment."""
    with s3_server() as endpoint:
        store = f"s3://{new_bucket(endpoint)}/sandbox"
        seen = _two_nodes(environment(endpoint), store)
    assert seen["nodes"] == 2
    assert seen["nodes_used"] == 2 == seen["nodes_with_storage_environment"]
    assert seen["partitions"] == 6
    assert seen["output"] == f"{store}/quarantine/job-1-a1.parquet"
    assert seen["exact_equal"] and seen["released_equal"]


def _two_nodes(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run the script on a fresh two-node cluster whose nodes start with ``env``."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare: the cluster runs in a private PID namespace")
    ray = Path(sys.executable).with_name("ray")
    port = _free_port()
    # AF_UNIX socket paths are limited to 107 bytes: a short folder of our own
    temp = Path(tempfile.mkdtemp(prefix="r2n-", dir="/tmp"))
    # A private PID namespace: `ray stop` and the namespace's end reach only
    # this cluster, never the session's own Ray.
    script = f"""
set -eu
export RAY_AUTH_MODE=token
{ray} start --head --port={port} --num-cpus=1 --include-dashboard=false \\
    --node-ip-address=127.0.0.1 --temp-dir={temp} --disable-usage-stats >/dev/null
{ray} start --address=127.0.0.1:{port} --num-cpus=1 --node-ip-address=127.0.0.1 \\
    --disable-usage-stats >/dev/null
status=0
{sys.executable} {SCRIPT} 127.0.0.1:{port} {" ".join(args)} || status=$?
{ray} stop --force >/dev/null 2>&1 || true
exit $status
"""
    try:
        result = subprocess.run(
            ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "bash", "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | env,
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    seen: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return seen


def test_ready_when_the_sessions_local_ray_runs_then_true(ray_runner: object) -> None:
    from jobs.runner import RayRunner

    assert isinstance(ray_runner, RayRunner)
    assert ray_runner.ready(timeout_s=30) is True
