"""Crash points: where the kill -9 tests stop a process, by name.

``SANDBOX_CRASH_AT=<point>`` makes :func:`crashpoint` kill its own process with
SIGKILL when the named point is reached (nothing is flushed, no handler runs:
as a power cut would). It acts only in development; production ignores it.
The points, where they are placed:

- ``after_submit``: a submission committed (:func:`sandbox.jobs.submit.submit`);
- ``after_claim``: a worker claimed a job (:meth:`sandbox.jobs.execute.Executor.claim`);
- ``during_run``: half a second into a run (the runner, Ray, is working);
- ``after_output``: the run wrote its output into quarantine, before the checks;
- ``during_checks``: the automatic checks' child process is working;
- ``before_approve_commit`` / ``after_approve_commit``: an approval's transaction
  (:func:`sandbox.airlock.review.review`);
- ``during_download``: a download's file is being sent.

``tests/system/test_crash_recovery.py`` kills a real service at each.
"""

from __future__ import annotations

import os
import signal
import threading

#: The environment variable naming the point to crash at.
ENV = "SANDBOX_CRASH_AT"


def armed(point: str) -> bool:
    """Whether this process is to crash at ``point``.

    >>> armed("after_claim")
    False
    """
    return (
        os.environ.get(ENV) == point
        and os.environ.get("SANDBOX_ENVIRONMENT", "development") == "development"
    )


def crashpoint(point: str) -> None:
    """Kill this process with SIGKILL if it is to crash at ``point``; otherwise nothing."""
    if armed(point):
        os.kill(os.getpid(), signal.SIGKILL)


def crash_soon(point: str, after_s: float) -> None:
    """Kill this process ``after_s`` seconds from now if it is to crash at ``point`` (a
    crash in the middle of what the caller starts next: a run, a check)."""
    if armed(point):
        timer = threading.Timer(after_s, os.kill, (os.getpid(), signal.SIGKILL))
        timer.daemon = True
        timer.start()
