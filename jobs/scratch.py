"""Private scratch folders named by their process, swept when that process is gone.

A folder made with :func:`folder` is deleted when its ``with`` block ends; a
process killed from outside (a Ray task cancelled with SIGKILL at its time
limit, a worker's pod evicted) never gets there, and what it left (a job's
unreviewed output, a downloaded copy of one) would stay in the temporary folder.
The folder's name carries its process id, so the next process to make one with
the same prefix on that machine deletes those whose process no longer runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def sweep(prefix: str) -> None:
    """Remove folders ``<tmp>/<prefix><pid>-…`` whose process was killed from outside."""
    for found in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            pid = int(found.name[len(prefix) :].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(found, ignore_errors=True)


@contextmanager
def folder(prefix: str) -> Iterator[Path]:
    """A private temporary folder ``<prefix><pid>-…``, deleted on exit (dead ones swept first)."""
    sweep(prefix)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-") as made:
        yield Path(made)
