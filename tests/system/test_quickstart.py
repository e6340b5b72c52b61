"""The README's quickstart, followed as written, from an empty folder to a released table.

The quickstart's code blocks are read from README.md in order: shell blocks run
in bash (the environment one block exports carries to the next, as in one
person's terminal), ``sandbox serve`` starts as a real process of its own (with
its own local Ray), and the Python blocks run here, in one namespace, with the
light client. Only the port is changed (a free one instead of 8000) and Ray is
held to one CPU; the rest runs as a newcomer would type it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.cli.demo import free_port

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SERVE = "sandbox serve"


def quickstart_blocks(text: str) -> list[tuple[str, str]]:
    """The quickstart section's fenced blocks, in order, as (language, code).

    >>> quickstart_blocks("## Quickstart\\n```bash\\nls\\n```\\n## Next\\n```bash\\nno\\n```\\n")
    [('bash', 'ls\\n')]
    """
    section = re.search(r"\n?## Quickstart.*?(?=\n## |\Z)", text, re.S)
    assert section, "the README lost its quickstart"
    return re.findall(r"```(bash|python)\n(.*?)```", section[0], re.S)


def _commands(code: str) -> list[str]:
    """A shell block as logical lines (continuations joined), comments and blanks dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def _bash(script: str, env: dict[str, str], cwd: Path) -> dict[str, str]:
    """Run ``script`` in bash; fail on any error; return the environment it ends with."""
    dump = cwd / ".env-after"
    ran = subprocess.run(
        ["bash", "-c", f'set -euo pipefail\n{script}\nenv -0 > "{dump}"'],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, f"{script}\nfailed:\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
    assert "Traceback" not in ran.stderr, ran.stderr
    pairs = (item.split("=", 1) for item in dump.read_text().split("\0") if "=" in item)
    return dict(pairs)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, f"sandbox serve exited:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise AssertionError(f"sandbox serve not ready:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def _serving(env: dict[str, str], cwd: Path, url: str) -> Iterator[subprocess.Popen[bytes]]:
    log = cwd / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["sandbox", "serve"], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(url, process, log)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_quickstart_when_followed_as_written_then_the_operator_reads_a_released_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    blocks = [
        (lang, code.replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
        for lang, code in quickstart_blocks(README.read_text(encoding="utf-8"))
    ]
    assert [lang for lang, _ in blocks] == ["bash", "bash", "bash", "python", "bash", "python"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "RAY_"))}
    env |= {
        # the `sandbox` of this interpreter's environment, running this tree's code
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "SANDBOX_PORT": str(port),
        "SANDBOX_RAY_NUM_CPUS": "1",
        "SANDBOX_POLL_S": "0.2",
    }
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.ExitStack() as stack:
        for lang, code in blocks:
            if lang == "python":
                for name in ("SANDBOX_URL", "SANDBOX_TOKEN"):
                    monkeypatch.setenv(name, env[name])
                with contextlib.redirect_stdout(printed):
                    exec(compile(code, str(README), "exec"), namespace)
                continue
            script: list[str] = []
            for command in _commands(code):
                if command.split("#")[0].strip() == SERVE:
                    env = _bash("\n".join(script), env, tmp_path)
                    script = []
                    stack.enter_context(_serving(env, tmp_path, url))
                else:
                    script.append(command)
            env = _bash("\n".join(script), env, tmp_path)
        client = namespace["client"]
        client.close()  # type: ignore[attr-defined]

    assert (tmp_path / "sandbox-data" / "sandbox.db").exists()  # the folder was made
    job = namespace["job"]
    assert job.status == "released"  # type: ignore[attr-defined]
    shown = printed.getvalue()
    assert "awaiting_review" in shown and "南京市" in shown and "_ci_low" in shown
    for token in ("admin.token", "steward.token", "analyst.token"):
        assert (tmp_path / token).read_text().startswith("sbx_")
