"""The web side's shape: the app factory sits above ``api/`` and ``console/``, which never
import each other (what both need lives beside the factory)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[4] / "sandbox" / "web"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


@pytest.mark.parametrize(("part", "other"), [("api", "console"), ("console", "api")])
def test_web_parts_when_imports_read_then_api_and_console_never_import_each_other(
    part: str, other: str
):
    files = sorted((WEB / part).rglob("*.py"))
    assert files
    offenders = {
        str(f.relative_to(WEB)): sorted(
            i
            for i in _imports(f)
            if i.startswith(f"sandbox.web.{other}") or i in {"sandbox.web.app"}
        )
        for f in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_web_common_modules_when_imports_read_then_they_import_neither_part():
    for name in ("deps.py", "params.py", "errors.py"):
        assert not {
            i
            for i in _imports(WEB / name)
            if i.startswith(("sandbox.web.api", "sandbox.web.console"))
        }, name
