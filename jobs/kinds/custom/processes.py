"""Watching a jail from outside: its output streams, its status, its processes, its clock.

:func:`jobs.kinds.custom.jail.run_jailed` starts bubblewrap; these pieces
read what it reports (the jail's pid, the exit code), drain stdout and
stderr, find the jail's ``/output``, and kill the jail at the wall-clock limit
or (without a cgroup) the process cap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO

from jobs.kinds.custom.cgroup import POLL_S, Cgroup, kill
from jobs.kinds.custom.limits import KIB, Limits
from policies.errors import InternalError

__all__ = [
    "STREAM_TAIL",
    "Bwrap",
    "StatusReader",
    "Stream",
    "Tail",
    "count_in_pidns",
    "cpu_exceeded",
    "open_output",
    "process_tree",
    "watch",
]

#: Each of stdout and stderr keeps this many trailing bytes for the reviewer.
STREAM_TAIL = 64 * KIB


@dataclass(frozen=True, slots=True)
class Stream:
    """The end of one output stream: kept for the reviewer, never shown to the operator."""

    tail: bytes
    total_bytes: int

    @property
    def text(self) -> str:
        """The tail decoded, undecodable bytes replaced."""
        return self.tail.decode("utf-8", errors="replace")


class Tail(threading.Thread):
    """Drains one pipe, keeping its last :data:`STREAM_TAIL` bytes and counting the rest."""

    def __init__(self, pipe: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.buffer = bytearray()
        self.total = 0

    def run(self) -> None:
        with self.pipe:
            while chunk := os.read(self.pipe.fileno(), 1 << 16):
                self.total += len(chunk)
                self.buffer += chunk
                if len(self.buffer) > 2 * STREAM_TAIL:
                    del self.buffer[:-STREAM_TAIL]

    def stream(self) -> Stream:
        return Stream(bytes(self.buffer[-STREAM_TAIL:]), self.total)


class StatusReader(threading.Thread):
    """Reads bubblewrap's JSON status documents: the jail's pid, then its exit code."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.pid: int | None = None
        self.pidns: int | None = None
        self.exit_code: int | None = None
        self.started_jail = threading.Event()

    def run(self) -> None:
        decoder = json.JSONDecoder()
        text = ""
        with os.fdopen(self.fd, "rb") as handle:
            while chunk := handle.read1(4096):
                text += chunk.decode("utf-8", errors="replace")
                while text.strip():
                    try:
                        doc, end = decoder.raw_decode(text.lstrip())
                    except json.JSONDecodeError:
                        break
                    text = text.lstrip()[end:]
                    if isinstance(doc, dict) and "child-pid" in doc:
                        self.pid = int(doc["child-pid"])
                        self.pidns = doc.get("pid-namespace")
                        self.started_jail.set()
                    if isinstance(doc, dict) and "exit-code" in doc:
                        self.exit_code = int(doc["exit-code"])
        self.started_jail.set()

    def child_pid(self, deadline: float, proc: Bwrap) -> int:
        """The jail's pid 1 as the host sees it, once bubblewrap reports it.

        Raises:
            InternalError: bubblewrap failed or did not report in time.
        """
        if not self.started_jail.wait(timeout=max(0.0, deadline - time.monotonic())):
            raise InternalError("the jail did not start in time")
        if self.pid is None:
            proc.poll(block=True)
            raise InternalError(
                f"the jail could not be set up (bubblewrap exit {proc.proc.returncode})"
            )
        return self.pid


def open_output(jail_pid: int, limits: Limits, deadline: float) -> int:
    """Open the jail's ``/output`` tmpfs from outside, once bubblewrap has mounted it.

    bubblewrap waits on ``--block-fd`` after its set-up and before it runs the
    command, so nothing jailed runs yet; the tmpfs is told apart from whatever
    the path shows before the set-up by its device and exact size.
    """
    host_dev = os.stat("/").st_dev
    path = f"/proc/{jail_pid}/root/output"
    while time.monotonic() < deadline:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            time.sleep(POLL_S)
            continue
        vfs = os.fstatvfs(fd)
        if os.fstat(fd).st_dev != host_dev and vfs.f_blocks * vfs.f_frsize == limits.output_bytes:
            return fd
        os.close(fd)
        time.sleep(POLL_S)
    raise InternalError("the jail's output folder did not appear in time")


def watch(
    proc: Bwrap, jail_pid: int, pidns: int | None, limits: Limits, cgroup: Cgroup, start: float
) -> tuple[str | None, int | None]:
    """Wait for the jail to end; kill it at the wall-clock limit or (watchdog) the process cap."""
    deadline = start + limits.wall_s
    peak = 0
    while not proc.poll():
        if time.monotonic() >= deadline:
            return "wall", peak or None
        if not cgroup.caps_processes and pidns is not None:
            count = count_in_pidns(pidns)
            peak = max(peak, count)
            if count > limits.processes:
                kill(jail_pid)
                return "processes", peak
        time.sleep(POLL_S)
    return None, peak or None


def count_in_pidns(inode: int) -> int:
    """Processes (not threads) whose pid namespace is ``inode``, read from ``/proc``."""
    target, count = f"pid:[{inode}]", 0
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                try:
                    count += os.readlink(f"/proc/{entry.name}/ns/pid") == target
                except OSError:
                    continue
    return count


class Bwrap:
    """The ``bwrap`` process, waited for with ``wait4`` so its children's CPU time is known."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.cpu_s = 0.0

    def poll(self, block: bool = False) -> bool:
        """Whether bubblewrap has ended (reaps it and records the CPU time when it has)."""
        if self.proc.returncode is not None:
            return True
        try:
            pid, status, usage = os.wait4(self.proc.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.proc.returncode = -1
            return True
        if pid == 0:
            return False
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_s = usage.ru_utime + usage.ru_stime
        return True

    def kill(self) -> None:
        """Kill bubblewrap's process group and reap it."""
        if self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.poll(block=True)


def cpu_exceeded(exit_code: int | None, cpu: float, limits: Limits) -> bool:
    """Whether the CPU rlimit ended the run.

    The kernel checks ``RLIMIT_CPU`` against tick-sampled time, which runs ahead of
    the cgroup's exact count when the jail is throttled (its CPU quota) or crowded
    out (``nice`` 19): 1.77 exact seconds were seen at a 2-second limit.
    """
    signals = {128 + signal.SIGXCPU, 128 + signal.SIGKILL}
    return exit_code in signals and cpu >= limits.cpu_s * 0.75


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from the parent pids in ``/proc``."""
    parents: dict[int, int] = {}
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as handle:
                        # pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
                        fields = handle.read().rsplit(b")", 1)[1].split()
                    parents[int(entry.name)] = int(fields[1])
                except (OSError, IndexError, ValueError):
                    continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        found += frontier
    return found
