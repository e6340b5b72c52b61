"""Run a command in a bubblewrap jail: the trusted half of the ``custom`` job kind.

The jail (`bubblewrap <https://github.com/containers/bubblewrap>`_, ``/usr/bin/bwrap``)
gets new user, pid, network, ipc, uts, cgroup and mount namespaces; no network
at all (only a loopback of its own); a cleared environment; uid/gid 65534,
which on the host is a fresh unprivileged uid when the service runs as root
(bubblewrap is started through ``unshare``/``setpriv``, see :func:`_launcher`);
no capabilities and no further user namespaces; a seccomp filter refusing the
system calls listed in :mod:`jobs.kinds.custom.seccomp` (``ptrace``, ``io_uring_*``,
``keyctl``, ``bpf``, mounts, ...); read-only binds of only the OS libraries,
the Python interpreter and its site-packages, and the inputs the caller names;
a fresh ``/proc``, a minimal ``/dev``, no ``/sys``; an ``/etc`` of three files
and the caller's small files (the code) copied in from memory, so no host path
of theirs shows inside; size-capped tmpfs ``/tmp`` and ``/output``.

The jailed command is the jail's pid 1 (``--as-pid-1``): no bubblewrap
process is left inside the jail, so there is no unfiltered pid 1 whose memory
(``/proc/1/mem``) the code could open. The interpreter and site-packages are
bound under :data:`JAIL_RUNTIME`, so ``/proc/1/cmdline`` shows no host path;
bubblewrap's own arguments come through a file descriptor (``--args``) and it
gets an empty environment. ``/proc/self/mountinfo`` still names the host
folders that are bound (the interpreter, site-packages, the data folder): the
kernel shows each bind's source path within its file system. As pid 1 the code
reaps no orphans: processes it leaves behind stay zombies (counted in the
process cap) until the jail ends.

Limits hold from outside the jail:

* rlimits (CPU, address space, file size, open files and, with a uid of its
  own, processes) are set by util-linux ``prlimit`` just before bubblewrap
  runs, and everything inside inherits them;
* the number of processes (threads included), the total memory and the CPU
  are capped by a fresh cgroup (``pids.max``, ``memory.limit_in_bytes`` /
  ``memory.max``, a CPU quota of :attr:`Limits.cpu_percent` and the lowest CPU
  weight: ``cpu.cfs_quota_us``/``cpu.shares`` or ``cpu.max``/``cpu.weight``)
  joined while bubblewrap waits on ``--block-fd``, when the host lets the
  service create one. Without a writable cgroup a watchdog counts the jail's
  processes every few milliseconds and kills the whole jail past the cap
  (weaker: a fast fork bomb may overshoot briefly, which ``RLIMIT_NPROC``
  bounds when the jail has its own uid);
* every process of the jail runs at ``nice`` 19, so the host's visible work
  comes first even without a CPU cgroup. The code can still load the shared
  cores within its quota, which an operator timing their own requests could
  read: a timing channel that only dedicated nodes for custom code close;
* the wall clock is watched from outside; on expiry the jail's pid 1 is killed,
  which makes the kernel kill every process of the namespace;
* ``/output`` is a tmpfs of a fixed size inside the jail. The wrapper opens it
  through ``/proc/<pid>/root/output`` before the jailed code starts (bubblewrap
  blocks on ``--block-fd`` until then), so it can read the files after the jail
  is gone, from outside, never following a link; nothing is mounted on the host.

Why hand-written and not a library: bubblewrap is the vetted part; this module
only assembles its arguments and watches the process. No maintained Python
package drives bubblewrap with cgroup limits and an output tmpfs.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import site
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import IO

from jobs.kinds.custom.seccomp import filter_fd
from policies.errors import InternalError, InvalidRequest

BWRAP = "/usr/bin/bwrap"
#: The uid and gid the jailed code runs as (``nobody``).
JAIL_UID = 65534
#: Host uids of jails (root service): one fresh uid per run, above any real user.
_UID_BASE = 1_500_000_000
_UID_SPAN = 500_000_000
_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB
#: Each of stdout and stderr keeps this many trailing bytes for the reviewer.
STREAM_TAIL = 64 * _KIB
#: How often the watchdog looks at the clock and the process count.
_POLL_S = 0.01
#: Time the jail gets to start (namespaces, mounts) before it counts as broken.
_START_S = 20.0
#: The jail's own tmpfs (inside the jail; not the host's /tmp).
JAIL_TMP = "/tmp"  # noqa: S108
#: Where the Python runtime's site-packages (and, if shadowed, the interpreter) appear.
JAIL_RUNTIME = "/run/sandbox-runtime"
#: The CPU cgroup's accounting period; the quota is a share of it.
_CPU_PERIOD_US = 100_000
#: Prefix of the jail's private host folders in the temporary folder (``<prefix><pid>-*``).
WORK_PREFIX = "sandbox-jail-"


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one jailed run; a grant may set each within :data:`LIMIT_RANGES`.

    Attributes:
        wall_s: Wall-clock seconds before the jail is killed from outside.
        cpu_s: CPU seconds per process (``RLIMIT_CPU``).
        memory_bytes: Address space per process (``RLIMIT_AS``) and, with a
            memory cgroup, the jail's total memory besides its tmpfs. Polars
            reserves much address space: below about 1.5 GiB it cannot write Parquet.
        processes: Processes and threads the jail may hold at once (a polars
            import alone starts about 20 threads).
        file_size_bytes: Largest file the code may write (``RLIMIT_FSIZE``).
        open_files: Open file descriptors per process (``RLIMIT_NOFILE``).
        output_bytes: Size of the ``/output`` tmpfs.
        output_files: Most files ``/output`` may hold; more and nothing is released.
        tmp_bytes: Size of the ``/tmp`` tmpfs.
        cpu_percent: The jail's CPU quota, in percent of one core (cgroup
            ``cpu.max``/``cpu.cfs_quota_us``), where the host has a CPU cgroup.

    Raises:
        InvalidRequest: A value is not an integer within its range.
    """

    wall_s: int = 300
    cpu_s: int = 120
    memory_bytes: int = 4 * _GIB
    processes: int = 64
    file_size_bytes: int = 256 * _MIB
    open_files: int = 256
    output_bytes: int = 512 * _MIB
    output_files: int = 200
    tmp_bytes: int = 256 * _MIB
    cpu_percent: int = 50

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            low, high = LIMIT_RANGES[f.name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidRequest(
                    f"jail limit '{f.name}' must be an integer between {low} and {high}"
                )

    @classmethod
    def from_grant(cls, settings: Mapping[str, object] | None) -> Limits:
        """The limits a grant sets; keys it omits take the safe defaults.

        Args:
            settings: The grant's ``limits`` (``{}`` or ``None``: all defaults).

        Returns:
            The limits.

        Raises:
            InvalidRequest: An unknown key, or a value outside its range.

        >>> Limits.from_grant({"wall_s": 60}).wall_s
        60
        """
        settings = dict(settings or {})
        unknown = sorted(set(settings) - set(LIMIT_RANGES))
        if unknown:
            raise InvalidRequest(
                f"unknown jail limits {unknown}; the known ones are {sorted(LIMIT_RANGES)}"
            )
        return cls(**settings)  # type: ignore[arg-type]


#: Inclusive (least, greatest) value of each limit: a grant cannot go beyond.
LIMIT_RANGES: dict[str, tuple[int, int]] = {
    "wall_s": (1, 3600),
    "cpu_s": (1, 3600),
    "memory_bytes": (256 * _MIB, 32 * _GIB),
    "processes": (8, 512),
    "file_size_bytes": (1 * _MIB, 4 * _GIB),
    "open_files": (32, 4096),
    "output_bytes": (1 * _MIB, 4 * _GIB),
    "output_files": (1, 1000),
    "tmp_bytes": (1 * _MIB, 4 * _GIB),
    "cpu_percent": (5, 400),
}


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the jail binds read-only so Python runs: host path → path inside the jail.

    The interpreter's prefix and the site-packages are bound under :data:`JAIL_RUNTIME`
    (``PYTHONPATH`` points there), never at their host path: the jail's pid 1 is the
    interpreter, and its command line must name no host path; a checkout under ``/tmp``
    (CI's, say) would also be hidden by the jail's own ``/tmp``. An interpreter that
    links its own ``libpython`` by absolute path finds it through ``LD_LIBRARY_PATH``
    (the prefix's ``lib``).

    Attributes:
        python: The interpreter to run inside (a path inside the jail).
        binds: Host directory → where it appears inside, bound read-only.
        pythonpath: ``PYTHONPATH`` inside (site-packages; no ``.pth`` file runs).
    """

    python: str
    binds: tuple[tuple[str, str], ...]
    pythonpath: tuple[str, ...]

    @classmethod
    def current(cls) -> Runtime:
        """The interpreter running this process and its site-packages (a venv's included)."""
        prefix = os.path.realpath(sys.base_prefix)
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        packages = [
            p
            for p in dict.fromkeys(os.path.realpath(p) for p in site.getsitepackages())
            if os.path.isdir(p) and not p.startswith(prefix + os.sep)
        ]
        inside = f"{JAIL_RUNTIME}/python"
        places = [f"{JAIL_RUNTIME}/site-packages-{i}" for i in range(len(packages))]
        return cls(
            python=os.path.join(inside, "bin", version),
            binds=((prefix, inside), *zip(packages, places, strict=True)),
            pythonpath=tuple(places),
        )


@dataclass(frozen=True, slots=True)
class Stream:
    """The end of one output stream: kept for the reviewer, never shown to the operator."""

    tail: bytes
    total_bytes: int

    @property
    def text(self) -> str:
        """The tail decoded, undecodable bytes replaced."""
        return self.tail.decode("utf-8", errors="replace")


@dataclass(slots=True)
class JailResult:
    """How a jailed run ended; ``output_fd`` reads its ``/output`` until the context closes.

    Attributes:
        exit_code: The command's exit status (128 + N when killed by signal N);
            ``None`` when the jail was killed from outside before it reported one.
        killed_by: ``"wall"``, ``"processes"``, ``"cpu"`` or ``None``.
        wall_s: Seconds from start to end.
        cpu_s: CPU seconds used by the jail's processes (user + system).
        stdout: Tail of the command's stdout.
        stderr: Tail of the command's stderr.
        output_fd: Directory file descriptor of the jail's ``/output`` tmpfs.
        process_cap: ``"cgroup"`` or ``"watchdog"``: what bounded the process count.
        peak_processes: Most processes seen at once (cgroup) or counted (watchdog).
    """

    exit_code: int | None
    killed_by: str | None
    wall_s: float
    cpu_s: float
    stdout: Stream
    stderr: Stream
    output_fd: int
    process_cap: str
    peak_processes: int | None = None


@contextmanager
def run_jailed(
    argv: Sequence[str],
    *,
    limits: Limits,
    ro_binds: Mapping[str, str] | None = None,
    runtime: Runtime | None = None,
    env: Mapping[str, str] | None = None,
    workdir: str = JAIL_TMP,
    files: Mapping[str, bytes] | None = None,
) -> Iterator[JailResult]:
    """Run ``argv`` in a jail; yield how it ended while its ``/output`` is still readable.

    Args:
        argv: The command inside the jail (paths as the jail sees them).
        limits: Resource limits.
        ro_binds: Host path → path inside the jail, bound read-only (inputs).
        files: Path inside the jail → content: small read-only files (the code),
            copied in from memory (folders are made as needed).
        runtime: Interpreter binds; defaults to :meth:`Runtime.current`.
        env: Extra environment variables (the environment is otherwise cleared).
        workdir: Working directory inside the jail.

    Yields:
        The result; ``output_fd`` is closed when the context exits.

    Raises:
        InternalError: bubblewrap is missing or the jail could not be set up.
    """
    if not os.access(BWRAP, os.X_OK):
        raise InternalError("bubblewrap (/usr/bin/bwrap) is not installed on this worker")
    runtime = runtime or Runtime.current()
    host_uid = _host_uid()
    with ExitStack() as stack:
        work = stack.enter_context(_private_folder(host_uid))
        cgroup = stack.enter_context(_Cgroup.create(limits))
        binds = dict(runtime.binds) | dict(ro_binds or {})
        launcher, staged = _launcher(host_uid, binds, work)
        # bubblewrap starts with no environment at all; the jail runs at the lowest priority.
        launcher += ["/usr/bin/env", "-i", "/usr/bin/nice", "-n", "19"]
        launcher += _prlimit(limits, fresh_uid=host_uid != os.geteuid())
        fds: list[int] = []
        stack.callback(_close_all, fds)
        fds.append(filter_fd())
        in_memory = _etc_files() | dict(files or {})
        copied = _file_args(in_memory, fds)
        args = _bwrap_args(limits, runtime, staged, copied, env or {}, workdir)
        args += ["--seccomp", str(fds[0])]
        result = _run(launcher, args, argv, limits, cgroup, fds)
        stack.callback(os.close, result.output_fd)
        yield result


def _host_uid() -> int:
    """The host uid the jail runs as: a fresh unprivileged one when the service is root.

    The jailed uid 65534 maps to the uid that starts bubblewrap. Were that root,
    the jailed code would hold root's file ownership wherever the kernel checks
    it (``/proc/sys`` files are writable by their owner: ``kernel.core_pattern``
    would run a command as host root) and ``RLIMIT_NPROC`` would not apply.
    """
    if os.geteuid() != 0:
        return os.geteuid()
    return _UID_BASE + secrets.randbelow(_UID_SPAN)


def _launcher(
    host_uid: int, binds: Mapping[str, str], work: Path
) -> tuple[list[str], dict[str, str]]:
    """The command that starts bubblewrap as ``host_uid``, and the binds as bubblewrap sees them.

    As root: a private mount namespace (``unshare``) bind-mounts each source
    into the private folder, where the unprivileged uid can reach it even when
    the source cannot be reached (the interpreter under ``/root``, the job's
    private folders), then drops to ``host_uid`` (``setpriv``) and runs bwrap.
    """
    if os.geteuid() != 0:
        return [], dict(binds)
    staged: dict[str, str] = {}
    mounts: list[str] = []
    for number, (src, dest) in enumerate(binds.items()):
        target = work / "mnt" / str(number)
        if os.path.isdir(src):
            target.mkdir(parents=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
        mounts += [src, str(target)]
        staged[str(target)] = dest
    script = (
        'while [ "$1" != "--" ]; do /usr/bin/mount --bind -o ro "$1" "$2" || exit 125; '
        'shift 2; done; shift; exec "$@"'
    )
    setpriv = [
        "/usr/bin/setpriv",
        f"--reuid={host_uid}",
        f"--regid={host_uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]
    unshare = ["/usr/bin/unshare", "--mount", "--propagation", "private", "--"]
    return [*unshare, "/bin/sh", "-c", script, "sh", *mounts, "--", *setpriv], staged


def _bwrap_args(
    limits: Limits,
    runtime: Runtime,
    ro_binds: dict[str, str],
    copied: list[str],
    env: Mapping[str, str],
    workdir: str,
) -> list[str]:
    """bubblewrap's options (given through ``--args``: they name host paths).

    ``copied`` (options that copy files in from memory) come before ``/`` turns read-only.
    """
    args = [
        "--unshare-all",
        "--unshare-user",
        "--as-pid-1",
        "--disable-userns",
        "--assert-userns-disabled",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--uid", str(JAIL_UID),
        "--gid", str(JAIL_UID),
        "--hostname", "jail",
        "--proc", "/proc",
        "--dev", "/dev",
    ]  # fmt: skip
    for path in ("/usr/bin", "/usr/lib", "/usr/lib64", "/usr/share/zoneinfo"):
        if os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    if os.path.isfile("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for src, dest in ro_binds.items():
        args += ["--ro-bind", src, dest]
    args += copied
    args += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", JAIL_TMP]
    args += ["--perms", "1777", "--size", str(limits.output_bytes), "--tmpfs", "/output"]
    # The jailed uid owns bubblewrap's root and /dev tmpfs: make them read-only (and uncapped
    # tmpfs space unusable); /tmp and /output are mounts of their own and stay writable.
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
    threads = str(max(1, min(4, limits.processes // 8)))
    variables = {
        "PATH": f"/usr/bin:/bin:{os.path.dirname(runtime.python)}",
        "HOME": JAIL_TMP,
        "TMPDIR": JAIL_TMP,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(runtime.pythonpath),
        "LD_LIBRARY_PATH": os.path.join(os.path.dirname(os.path.dirname(runtime.python)), "lib"),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": JAIL_TMP,
        # Thread pools count against the process cap; keep them small.
        "POLARS_MAX_THREADS": threads,
        "RAYON_NUM_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "NUMEXPR_MAX_THREADS": threads,
        "ARROW_IO_THREADS": threads,
        "OMP_THREAD_LIMIT": threads,
    } | dict(env)
    for key, value in variables.items():
        args += ["--setenv", key, value]
    return [*args, "--chdir", workdir]


def _etc_files() -> dict[str, bytes]:
    """The jail's whole ``/etc`` besides the loader cache."""
    return {
        "/etc/passwd": (
            f"root:x:0:0:root:/:/usr/sbin/nologin\n"
            f"nobody:x:{JAIL_UID}:{JAIL_UID}:nobody:/tmp:/bin/sh\n"
        ).encode(),
        "/etc/group": f"root:x:0:\nnogroup:x:{JAIL_UID}:\n".encode(),
        "/etc/hosts": b"127.0.0.1 localhost jail\n",
    }


def _file_args(files: Mapping[str, bytes], fds: list[int]) -> list[str]:
    """bubblewrap options that copy ``files`` in from memory files (their fds go to ``fds``)."""
    args: list[str] = []
    made: set[str] = set()
    for dest, content in sorted(files.items()):
        parents = list(PurePosixPath(dest).parents)[::-1][1:]
        for parent in map(str, parents):
            if parent not in made:
                args += ["--perms", "0755", "--dir", parent]
            made.add(parent)
        fds.append(_memory_file(content))
        fd = fds[-1]
        args += ["--perms", "0444", "--file", str(fd), dest]
    return args


def _memory_file(content: bytes) -> int:
    """A memory file holding ``content``, at offset 0 (never on a disk, no path)."""
    fd = os.memfd_create("jail", 0)
    with os.fdopen(os.dup(fd), "wb") as handle:
        handle.write(content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def sweep_private_folders(prefix: str = WORK_PREFIX) -> None:
    """Remove private folders (``<prefix><pid>-…``) whose process was killed from outside."""
    import shutil
    import tempfile

    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            pid = int(folder.name[len(prefix) :].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _private_folder(host_uid: int) -> Iterator[Path]:
    """A folder only ``host_uid`` (and root) may enter (root: the staged binds)."""
    import shutil
    import tempfile

    sweep_private_folders()
    folder = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-"))
    try:
        if os.geteuid() == 0:
            os.chown(folder, host_uid, host_uid)
        folder.chmod(0o700)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Cgroup:
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
    def create(cls, limits: Limits) -> Iterator[_Cgroup]:
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
    def _make(cls, name: str, limits: Limits) -> _Cgroup:
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
                    _kill(pid)
                try:
                    path.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(_POLL_S)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _confine(pids: Sequence[int], cgroup: _Cgroup) -> None:
    """Put bubblewrap's processes in the cgroup.

    Done from outside while bubblewrap waits on ``--block-fd`` (the jailed code
    has not started, and inherits the cgroup when it does), not in a
    ``preexec_fn``: code run between fork and exec can deadlock in a threaded
    process such as a Ray worker.
    """
    for pid in pids:
        cgroup.add(pid)


def _prlimit(limits: Limits, fresh_uid: bool) -> list[str]:
    """util-linux ``prlimit``: sets the rlimits on itself, then runs bubblewrap (inherits them).

    ``RLIMIT_NPROC`` counts every process of the host uid, so it is set only
    when the jail has a fresh uid of its own; a service that is not root
    shares its uid with the jail, and there the cgroup or the watchdog caps
    the processes.
    """
    values = {
        "cpu": limits.cpu_s,
        "as": limits.memory_bytes,
        "fsize": limits.file_size_bytes,
        "nofile": limits.open_files,
        "core": 0,
    } | ({"nproc": limits.processes} if fresh_uid else {})
    return ["/usr/bin/prlimit", *(f"--{k}={v}:{v}" for k, v in values.items())]


def _tree(root: int) -> list[int]:
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


class _Tail(threading.Thread):
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


def _run(
    launcher: list[str],
    args: list[str],
    argv: Sequence[str],
    limits: Limits,
    cgroup: _Cgroup,
    fds: list[int],
) -> JailResult:
    info_r, info_w = os.pipe()
    block_r, block_w = os.pipe()
    args = [*args, "--json-status-fd", str(info_w), "--block-fd", str(block_r)]
    # Through a descriptor: bubblewrap's command line (/proc/1/cmdline in the jail) names
    # no host path, only this descriptor and the command (paths inside the jail).
    args_fd = _memory_file(b"".join(a.encode() + b"\0" for a in args))
    fds.append(args_fd)
    start = time.monotonic()
    try:
        popen = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments built above
            [*launcher, BWRAP, "--args", str(args_fd), "--", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(info_w, block_r, *fds),
            start_new_session=True,
            close_fds=True,
            # bubblewrap gets no environment, and the root as its working folder.
            env={},
            cwd="/",
        )
    finally:
        os.close(info_w)
        os.close(block_r)
    proc = _Bwrap(popen)
    assert popen.stdout is not None and popen.stderr is not None
    tails = (_Tail(popen.stdout), _Tail(popen.stderr))
    status = _StatusReader(info_r)
    for thread in (*tails, status):
        thread.start()
    jail_pid: int | None = None
    output_fd: int | None = None
    try:
        jail_pid = status.child_pid(deadline=start + _START_S, proc=proc)
        output_fd = _open_output(jail_pid, limits, deadline=start + _START_S)
        _confine(_tree(popen.pid), cgroup)
        os.write(block_w, b"x")
        killed_by, peak = _watch(proc, jail_pid, status.pidns, limits, cgroup, start)
    except BaseException:
        if output_fd is not None:
            os.close(output_fd)
        raise
    finally:
        os.close(block_w)
        if jail_pid is not None:
            _kill(jail_pid)
        proc.kill()
        for thread in (*tails, status):
            thread.join(timeout=5)
    exit_code = status.exit_code
    cpu = cgroup.cpu_s()
    cpu = proc.cpu_s if cpu is None else cpu
    if killed_by is None and _cpu_exceeded(exit_code, cpu, limits):
        killed_by = "cpu"
    if killed_by is None and cgroup.oom_kills():
        killed_by = "memory"
    return JailResult(
        exit_code=exit_code,
        killed_by=killed_by,
        wall_s=time.monotonic() - start,
        cpu_s=cpu,
        stdout=tails[0].stream(),
        stderr=tails[1].stream(),
        output_fd=output_fd,
        process_cap="cgroup" if cgroup.caps_processes else "watchdog",
        peak_processes=cgroup.peak() if cgroup.caps_processes else peak,
    )


class _StatusReader(threading.Thread):
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

    def child_pid(self, deadline: float, proc: _Bwrap) -> int:
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


def _open_output(jail_pid: int, limits: Limits, deadline: float) -> int:
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
            time.sleep(_POLL_S)
            continue
        vfs = os.fstatvfs(fd)
        if os.fstat(fd).st_dev != host_dev and vfs.f_blocks * vfs.f_frsize == limits.output_bytes:
            return fd
        os.close(fd)
        time.sleep(_POLL_S)
    raise InternalError("the jail's output folder did not appear in time")


def _watch(
    proc: _Bwrap, jail_pid: int, pidns: int | None, limits: Limits, cgroup: _Cgroup, start: float
) -> tuple[str | None, int | None]:
    """Wait for the jail to end; kill it at the wall-clock limit or (watchdog) the process cap."""
    deadline = start + limits.wall_s
    peak = 0
    while not proc.poll():
        if time.monotonic() >= deadline:
            return "wall", peak or None
        if not cgroup.caps_processes and pidns is not None:
            count = _count_in_pidns(pidns)
            peak = max(peak, count)
            if count > limits.processes:
                _kill(jail_pid)
                return "processes", peak
        time.sleep(_POLL_S)
    return None, peak or None


def _count_in_pidns(inode: int) -> int:
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


class _Bwrap:
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


def _cpu_exceeded(exit_code: int | None, cpu: float, limits: Limits) -> bool:
    """Whether the CPU rlimit ended the run.

    The kernel checks ``RLIMIT_CPU`` against tick-sampled time, which runs ahead of
    the cgroup's exact count when the jail is throttled (its CPU quota) or crowded
    out (``nice`` 19): 1.77 exact seconds were seen at a 2-second limit.
    """
    signals = {128 + signal.SIGXCPU, 128 + signal.SIGKILL}
    return exit_code in signals and cpu >= limits.cpu_s * 0.75
