"""The README's Python blocks run, as written, against a live service."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import httpx
import pytest

from sandbox.cli.demo import free_port, serving
from sandbox.service import Sandbox
from sandbox.settings import Settings
from tests.factories import build_world

pytestmark = [pytest.mark.ray, pytest.mark.slow]
README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_when_python_blocks_run_then_they_work(
    tmp_path: Path, ray_runner: object, monkeypatch: pytest.MonkeyPatch
):
    # the quickstart's blocks play several people on a service of their own:
    # tests/system/test_quickstart.py runs them
    text = re.sub(
        r"\n## Quickstart.*?(?=\n## )", "\n", README.read_text(encoding="utf-8"), flags=re.S
    )
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README lost its Python example"
    sandbox = Sandbox(Settings(data_dir=tmp_path), runner=ray_runner)  # type: ignore[arg-type]
    sandbox.start()
    with serving(sandbox, free_port()) as url, httpx.Client(base_url=url) as http:
        world = build_world(http, sandbox)  # type: ignore[arg-type]
        monkeypatch.setenv("SANDBOX_URL", url)
        monkeypatch.setenv("SANDBOX_TOKEN", world.operator)
        namespace: dict[str, object] = {}
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                for block in blocks:
                    exec(compile(block, str(README), "exec"), namespace)
            finally:
                if "client" in namespace:
                    namespace["client"].close()  # type: ignore[attr-defined]
    assert "awaiting_review" in out.getvalue()
    assert namespace["job"].status == "awaiting_review"  # type: ignore[attr-defined]
