"""The architecture: policies ← anonymize ← jobs ← sandbox, and a light client."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ORDER = ["policies", "anonymize", "jobs", "sandbox"]
# What each package may import from the project.
ALLOWED = {pkg: set(ORDER[: i + 1]) for i, pkg in enumerate(ORDER)}


def _project_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[0] for n in names} & set(ORDER)
    return found


@pytest.mark.parametrize("package", ORDER)
def test_layering_when_reading_every_import_then_dependencies_point_one_way(package: str):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    offenders = {
        str(f.relative_to(ROOT)): sorted(_project_imports(f) - ALLOWED[package]) for f in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


_IMPORT_ALL = """
import importlib, json, pkgutil, sys
pkg = importlib.import_module(sys.argv[1])
for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
    if ".migrations" in m.name:
        continue
    importlib.import_module(m.name)
print(json.dumps(sorted({n.split(".")[0] for n in sys.modules})))
"""


@pytest.mark.slow
@pytest.mark.parametrize("package", ["policies", "anonymize", "jobs"])
def test_layering_when_importing_in_fresh_interpreter_then_no_higher_layer_loads(package: str):
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, package],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = set(json.loads(out)) & set(ORDER)
    assert package in loaded
    assert loaded <= ALLOWED[package]


def test_policies_when_imported_then_no_io_library_loads():
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, "policies"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = set(json.loads(out))
    assert not loaded & {"sqlalchemy", "polars", "httpx", "fastapi", "ray", "numpy"}


def test_client_when_imported_then_no_server_dependency_loads():
    code = (
        "import sys, json, sandbox.client; "
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "httpx" in loaded and "polars" in loaded  # the client really loaded
    assert not loaded & {
        "ray",
        "fastapi",
        "torch",
        "sqlalchemy",
        "diffprivlib",
        "uvicorn",
        "starlette",
        "opacus",
        "presidio_analyzer",
    }


def test_client_when_imported_then_no_server_side_module_of_sandbox_loads():
    """The runtime side of the light-client contract in pyproject.toml ([tool.importlinter])."""
    code = (
        "import sys, json, sandbox.client; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('sandbox.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    assert "sandbox.client" in loaded
    assert [m for m in loaded if not m.startswith("sandbox.client")] == []
