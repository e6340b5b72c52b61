"""Scratch folders left by a killed process are swept by the next one (jobs.scratch)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from jobs import scratch

PREFIX = "sandbox-test-scratch-"


def test_folder_when_a_killed_process_left_one_then_the_next_sweeps_it_and_keeps_the_living():
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    dead = Path(tempfile.gettempdir()) / f"{PREFIX}{child.stdout.strip()}-x"
    alive = Path(tempfile.gettempdir()) / f"{PREFIX}{os.getppid()}-y"
    for left in (dead, alive):
        left.mkdir()
        (left / "output.parquet").write_bytes(b"unreviewed")
    try:
        with scratch.folder(PREFIX) as made:
            assert made.name.startswith(f"{PREFIX}{os.getpid()}-") and made.is_dir()
            assert not dead.exists()  # its process is gone
            assert alive.exists()  # its process runs
        assert not made.exists()
    finally:
        for left in (dead, alive):
            if left.exists():
                (left / "output.parquet").unlink()
                left.rmdir()
