"""What bubblewrap is told: the command that starts it, its options, the files copied in.

:func:`jobs.kinds.custom.jail.run_jailed` assembles a run from these; nothing
here starts a process. The options come to bubblewrap through a memory file
(``--args``), so its command line (the jail's ``/proc/1/cmdline``) names no
host path.
"""

from __future__ import annotations

import os
import site
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from jobs.kinds.custom.limits import Limits

__all__ = [
    "JAIL_RUNTIME",
    "JAIL_TMP",
    "JAIL_UID",
    "Runtime",
    "bwrap_args",
    "etc_files",
    "file_args",
    "launch_command",
    "memory_file",
    "prlimit",
]

#: The uid and gid the jailed code runs as (``nobody``).
JAIL_UID = 65534
#: The jail's own tmpfs (inside the jail; not the host's /tmp).
JAIL_TMP = "/tmp"  # noqa: S108
#: Where the Python runtime's site-packages (and, if shadowed, the interpreter) appear.
JAIL_RUNTIME = "/run/sandbox-runtime"


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


def launch_command(
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


def bwrap_args(
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


def etc_files() -> dict[str, bytes]:
    """The jail's whole ``/etc`` besides the loader cache."""
    return {
        "/etc/passwd": (
            f"root:x:0:0:root:/:/usr/sbin/nologin\n"
            f"nobody:x:{JAIL_UID}:{JAIL_UID}:nobody:/tmp:/bin/sh\n"
        ).encode(),
        "/etc/group": f"root:x:0:\nnogroup:x:{JAIL_UID}:\n".encode(),
        "/etc/hosts": b"127.0.0.1 localhost jail\n",
    }


def file_args(files: Mapping[str, bytes], fds: list[int]) -> list[str]:
    """bubblewrap options that copy ``files`` in from memory files (their fds go to ``fds``)."""
    args: list[str] = []
    made: set[str] = set()
    for dest, content in sorted(files.items()):
        parents = list(PurePosixPath(dest).parents)[::-1][1:]
        for parent in map(str, parents):
            if parent not in made:
                args += ["--perms", "0755", "--dir", parent]
            made.add(parent)
        fds.append(memory_file(content))
        fd = fds[-1]
        args += ["--perms", "0444", "--file", str(fd), dest]
    return args


def memory_file(content: bytes) -> int:
    """A memory file holding ``content``, at offset 0 (never on a disk, no path)."""
    fd = os.memfd_create("jail", 0)
    with os.fdopen(os.dup(fd), "wb") as handle:
        handle.write(content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def prlimit(limits: Limits, fresh_uid: bool) -> list[str]:
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
