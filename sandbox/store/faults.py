"""Crash points: where the kill -9 tests stop a process, by name.

``SANDBOX_CRASH_AT=<point>`` makes :func:`crashpoint` kill its own process with
SIGKILL when the named point is reached (nothing is flushed, no handler runs:
as a power cut would). It acts only in development; production ignores it.
Points are plain names (``after_submit``, ``after_claim``, ...) listed where
they are placed; the tests in ``tests/system/test_crash_recovery.py`` use them.
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
