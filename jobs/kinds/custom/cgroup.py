"""A fresh cgroup capping a jail's processes, memory and CPU, where the host allows one.

:mod:`jobs.kinds.custom.jail` creates one per run and joins bubblewrap's
processes to it before the jailed code starts; without a writable cgroup the
jail's watchdog (:mod:`jobs.kinds.custom.processes`) caps the processes instead.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs.kinds.custom.limits import Limits

__all__ = ["POLL_S", "Cgroup", "kill"]

#: How often a removal (and the jail's watchdog) looks again.
POLL_S = 0.01
#: The CPU cgroup's accounting period; the quota is a share of it.
_CPU_PERIOD_US = 100_000


class Cgroup:
    """A fresh cgroup capping the jail's processes (memory, CPU), if the host allows one.

    Both cgroup v2 (one hierarchy) and v1 (one hierarchy per controller) are
    handled; when neither is writable, :attr:`dirs` is empty and the caller
    falls back to the watchdog.
    """

    ROOT = Path("/sys/fs/cgroup")

    def __init__(self, dirs: dict[str, Path], v2: bool) -> None:
        self.dirs = dirs
        self.v2 = v2

    @classmethod
    @contextmanager
    def create(cls, limits: Limits) -> Iterator[Cgroup]:
        name = f"data-sandbox-jail-{os.getpid()}-{secrets.token_hex(6)}"
        cls._sweep()
        group = cls._make(name, limits)
        try:
            yield group
        finally:
            group._remove()

    @classmethod
    def _sweep(cls) -> None:
        """Remove empty cgroups left by workers that died (their pid is in the name)."""
        for path in cls.ROOT.glob("*/data-sandbox-jail-*"):
            try:
                pid = int(path.name.split("-")[3])
                if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
                    path.rmdir()
            except (OSError, ValueError, IndexError):
                continue

    @classmethod
    def _make(cls, name: str, limits: Limits) -> Cgroup:
        memory = limits.memory_bytes + limits.tmp_bytes + limits.output_bytes
        quota = _CPU_PERIOD_US * limits.cpu_percent // 100
        controllers = cls.ROOT / "cgroup.controllers"
        try:
            if controllers.is_file() and "pids" in controllers.read_text().split():
                path = cls.ROOT / name
                path.mkdir()
                group = cls({"pids": path}, v2=True)
                (path / "pids.max").write_text(str(limits.processes))
                if (path / "memory.max").exists():
                    (path / "memory.max").write_text(str(memory))
                    (path / "memory.swap.max").write_text("0")
                if (path / "cpu.max").exists():
                    (path / "cpu.max").write_text(f"{quota} {_CPU_PERIOD_US}")
                    (path / "cpu.weight").write_text("1")
                return group
            group = cls({}, v2=False)
            if (cls.ROOT / "pids" / "tasks").is_file():
                group.dirs["pids"] = cls.ROOT / "pids" / name
                group.dirs["pids"].mkdir()
                (group.dirs["pids"] / "pids.max").write_text(str(limits.processes))
            if group.dirs and (cls.ROOT / "memory" / "tasks").is_file():
                group.dirs["memory"] = cls.ROOT / "memory" / name
                group.dirs["memory"].mkdir()
                (group.dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory))
            if group.dirs and (cls.ROOT / "cpu" / "tasks").is_file():
                group.dirs["cpu"] = cls.ROOT / "cpu" / name
                if not group.dirs["cpu"].is_dir():  # cpu and cpuacct may share a hierarchy
                    group.dirs["cpu"].mkdir()
                (group.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(_CPU_PERIOD_US))
                (group.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
                (group.dirs["cpu"] / "cpu.shares").write_text("2")
            if group.dirs and (cls.ROOT / "cpuacct" / "tasks").is_file():
                group.dirs["cpuacct"] = cls.ROOT / "cpuacct" / name
                if not group.dirs["cpuacct"].is_dir():
                    group.dirs["cpuacct"].mkdir()
            return group
        except OSError:
            if "group" in locals():
                group._remove()
            return cls({}, v2=False)

    @property
    def caps_processes(self) -> bool:
        """Whether the kernel caps the process count (else: the watchdog does)."""
        return "pids" in self.dirs

    def add(self, pid: int) -> None:
        """Move process ``pid`` into the cgroup."""
        for path in dict.fromkeys(self.dirs.values()):
            (path / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        """Processes in the cgroup now."""
        if "pids" not in self.dirs:
            return []
        try:
            return [int(p) for p in (self.dirs["pids"] / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def peak(self) -> int | None:
        """Most processes the cgroup held at once (kernels that report it)."""
        path = self.dirs.get("pids")
        try:
            return int((path / "pids.peak").read_text()) if path else None
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        """Processes the kernel killed for the memory cap."""
        path = self.dirs.get("memory")
        if path is None and self.v2:
            path = self.dirs.get("pids")
        names = ("memory.events", "memory.oom_control")
        for name in names:
            try:
                text = (path / name).read_text() if path else ""
            except OSError:
                continue
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def cpu_s(self) -> float | None:
        """CPU seconds every process of the cgroup used, or ``None`` without CPU accounting."""
        try:
            if self.v2 and "pids" in self.dirs:
                for line in (self.dirs["pids"] / "cpu.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        return int(value) / 1e6
            if "cpuacct" in self.dirs:
                return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            return None
        return None

    def _remove(self) -> None:
        deadline = time.monotonic() + 10
        for path in dict.fromkeys(self.dirs.values()):
            while path.exists():
                for pid in self.pids():
                    kill(pid)
                try:
                    path.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(POLL_S)


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
