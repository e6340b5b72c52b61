"""Run a command in a bubblewrap jail: the trusted half of the ``custom`` job kind.

The jail (`bubblewrap <https://github.com/containers/bubblewrap>`_, ``/usr/bin/bwrap``)
gets new user, pid, network, ipc, uts, cgroup and mount namespaces; no network
at all (only a loopback of its own); a cleared environment; uid/gid 65534,
which on the host is a fresh unprivileged uid when the service runs as root
(bubblewrap is started through ``unshare``/``setpriv``, see
:func:`jobs.kinds.custom.arguments.launch_command`);
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

The parts: :mod:`~jobs.kinds.custom.limits` (the limits a grant sets),
:mod:`~jobs.kinds.custom.arguments` (bubblewrap's command, options and
in-memory files), :mod:`~jobs.kinds.custom.cgroup` (the cgroup),
:mod:`~jobs.kinds.custom.processes` (status, streams, watchdog, clock); this
module runs them together.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from jobs import scratch
from jobs.kinds.custom.arguments import (
    JAIL_RUNTIME,
    JAIL_TMP,
    JAIL_UID,
    Runtime,
    bwrap_args,
    etc_files,
    file_args,
    launch_command,
    memory_file,
    prlimit,
)
from jobs.kinds.custom.cgroup import Cgroup as _Cgroup
from jobs.kinds.custom.cgroup import kill
from jobs.kinds.custom.limits import LIMIT_RANGES, Limits
from jobs.kinds.custom.processes import (
    STREAM_TAIL,
    Bwrap,
    StatusReader,
    Stream,
    Tail,
    cpu_exceeded,
    open_output,
    process_tree,
    watch,
)
from jobs.kinds.custom.seccomp import filter_fd
from policies.errors import InternalError

__all__ = [
    "BWRAP",
    "JAIL_RUNTIME",
    "JAIL_TMP",
    "JAIL_UID",
    "LIMIT_RANGES",
    "STREAM_TAIL",
    "WORK_PREFIX",
    "JailResult",
    "Limits",
    "Runtime",
    "Stream",
    "run_jailed",
    "sweep_private_folders",
]

BWRAP = "/usr/bin/bwrap"
#: Host uids of jails (root service): one fresh uid per run, above any real user.
_UID_BASE = 1_500_000_000
_UID_SPAN = 500_000_000
#: Time the jail gets to start (namespaces, mounts) before it counts as broken.
_START_S = 20.0
#: Prefix of the jail's private host folders in the temporary folder (``<prefix><pid>-*``).
WORK_PREFIX = "sandbox-jail-"


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
        launcher, staged = launch_command(host_uid, binds, work)
        # bubblewrap starts with no environment at all; the jail runs at the lowest priority.
        launcher += ["/usr/bin/env", "-i", "/usr/bin/nice", "-n", "19"]
        launcher += prlimit(limits, fresh_uid=host_uid != os.geteuid())
        fds: list[int] = []
        stack.callback(_close_all, fds)
        fds.append(filter_fd())
        in_memory = etc_files() | dict(files or {})
        copied = file_args(in_memory, fds)
        args = bwrap_args(limits, runtime, staged, copied, env or {}, workdir)
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


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def sweep_private_folders(prefix: str = WORK_PREFIX) -> None:
    """Remove private folders (``<prefix><pid>-…``) whose process was killed from outside."""
    scratch.sweep(prefix)


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


def _confine(pids: Sequence[int], cgroup: _Cgroup) -> None:
    """Put bubblewrap's processes in the cgroup.

    Done from outside while bubblewrap waits on ``--block-fd`` (the jailed code
    has not started, and inherits the cgroup when it does), not in a
    ``preexec_fn``: code run between fork and exec can deadlock in a threaded
    process such as a Ray worker.
    """
    for pid in pids:
        cgroup.add(pid)


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
    args_fd = memory_file(b"".join(a.encode() + b"\0" for a in args))
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
    proc = Bwrap(popen)
    assert popen.stdout is not None and popen.stderr is not None
    tails = (Tail(popen.stdout), Tail(popen.stderr))
    status = StatusReader(info_r)
    for thread in (*tails, status):
        thread.start()
    jail_pid: int | None = None
    output_fd: int | None = None
    try:
        jail_pid = status.child_pid(deadline=start + _START_S, proc=proc)
        output_fd = open_output(jail_pid, limits, deadline=start + _START_S)
        _confine(process_tree(popen.pid), cgroup)
        os.write(block_w, b"x")
        killed_by, peak = watch(proc, jail_pid, status.pidns, limits, cgroup, start)
    except BaseException:
        if output_fd is not None:
            os.close(output_fd)
        raise
    finally:
        os.close(block_w)
        if jail_pid is not None:
            kill(jail_pid)
        proc.kill()
        for thread in (*tails, status):
            thread.join(timeout=5)
    exit_code = status.exit_code
    cpu = cgroup.cpu_s()
    cpu = proc.cpu_s if cpu is None else cpu
    if killed_by is None and cpu_exceeded(exit_code, cpu, limits):
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
