"""The client works on the light install: httpx, polars, pydantic and tqdm, nothing more.

A fresh interpreter refuses to import the server's dependencies (as after
``pip install data-sandbox-client``; ``tests/system/test_dist.py`` installs that
wheel for real), then
imports the client, builds a query, makes dummy rows and runs the query on
them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
# Top-level modules of the service's dependencies (and of dev tools) the client must not need.
SERVER_ONLY = sorted(
    {
        "ray", "pyarrow", "diffprivlib", "sklearn", "numpy", "torch", "opacus",
        "presidio_analyzer", "fastapi", "uvicorn", "starlette", "sqlalchemy", "alembic",
        "psycopg", "pydantic_settings", "typer", "jieba", "stdnum", "faker", "yaml",
        "multipart", "cryptography", "safetensors", "jinja2", "spacy",
    }
)  # fmt: skip
_PROGRAM = """
import importlib.abc, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (server extra not installed)")
        return None

sys.meta_path.insert(0, Refuse())
from sandbox.client import Client, count, mean
import httpx

def fake(request):
    return httpx.Response(200, json=DATASET)

with Client("http://x", "t", transport=httpx.MockTransport(fake)) as c:
    ds = c.dataset("residents")
    q = ds.query().filter("age", ">=", 18).group_by("city").agg(count(), mean("income", 0, 1e6))
    out = q.epsilon(0.5).run_on(ds.dummy(100, seed=1))
print(out.columns)
"""


@pytest.mark.slow
def test_client_when_server_extra_absent_then_builder_and_dummy_still_work():
    from tests.unit.sandbox.client._fake import DATASET

    program = f"BLOCKED = {set(SERVER_ONLY)!r}\nDATASET = {DATASET!r}\n" + _PROGRAM
    run = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "mean_income_ci_high" in run.stdout
