"""The jail's seccomp filter: system calls the jailed code may not make.

A deny-list, not an allow-list: Python with numpy, polars, pyarrow, torch and
their thread pools uses a wide and changing set of system calls (an allow-list
would break on the next wheel that calls something new), while the calls that
matter to an escape or to the host's kernel are few and known. Each listed call
fails with ``EPERM`` (a clean error in the code, not a killed process). The
filter is built with libseccomp (through :mod:`pyseccomp`) for the host's native
architecture; calls of any other architecture (32-bit ``int 0x80``, x32) kill
the process, libseccomp's default for a foreign architecture.

Sockets: the network namespace holds only a loopback, but it does not cover
every address family (``AF_VSOCK`` reaches the hypervisor of a virtual machine
whatever the namespace; ``AF_PACKET``, ``AF_BLUETOOTH``, ``AF_ALG`` are kernel
surface the code never needs). ``socket`` and ``socketpair`` fail with
``EPERM`` unless the family is one of :data:`SOCKET_FAMILIES`.

bubblewrap loads the filter (``--seccomp FD``) in the jailed process just before
it runs the command, which is the jail's pid 1 (``--as-pid-1``): no unfiltered
bubblewrap process is left inside the jail's pid namespace for the code to open
through ``/proc/1/mem`` or trace. ``ptrace`` and ``process_vm_*`` are refused
anyway.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from policies.errors import InternalError

#: Address families ``socket``/``socketpair`` may use: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK.
SOCKET_FAMILIES = (1, 2, 10, 16)

#: Refused system calls, by what they would give the jailed code.
DENIED: dict[str, tuple[str, ...]] = {
    # the io_uring and BPF interfaces: a large kernel attack surface, and io_uring
    # runs work in kernel threads that no seccomp filter sees
    "kernel attack surface": (
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "kcmp",
        "lookup_dcookie",
        "uselib",
        "ustat",
        "sysfs",
        "_sysctl",
        "modify_ldt",
        "personality",
    ),
    # the kernel keyrings are not namespaced
    "kernel keyrings": ("keyctl", "add_key", "request_key"),
    # reading or steering another process
    "other processes": (
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "pidfd_getfd",
        "process_madvise",
    ),
    # mounts and namespaces: the jail's file system view must stay as built
    "mounts and namespaces": (
        "mount",
        "umount2",
        "move_mount",
        "open_tree",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "mount_setattr",
        "pivot_root",
        "chroot",
        "unshare",
        "setns",
        "name_to_handle_at",
        "open_by_handle_at",
        "fanotify_init",
    ),
    # the host's kernel, clock and devices
    "host administration": (
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "quotactl",
        "quotactl_fd",
        "syslog",
        "settimeofday",
        "clock_settime",
        "clock_adjtime",
        "adjtimex",
        "sethostname",
        "setdomainname",
        "iopl",
        "ioperm",
        "vhangup",
        "nfsservctl",
    ),
}


def denied() -> list[str]:
    """Every refused system call's name."""
    return sorted({name for names in DENIED.values() for name in names})


def _refused_families(seccomp: Any) -> list[Any]:
    """Argument-0 comparisons matching every family outside :data:`SOCKET_FAMILIES`.

    The comparisons see the full 64-bit register, so any value with upper bits
    set (which the kernel would truncate to an ``int``) is above the last
    allowed family and refused as well.
    """
    top = max(SOCKET_FAMILIES)
    refused = [seccomp.Arg(0, seccomp.GT, top)]
    refused += [
        seccomp.Arg(0, seccomp.EQ, family) for family in range(top) if family not in SOCKET_FAMILIES
    ]
    return refused


def filter_fd() -> int:
    """A file descriptor (a sealed-off memory file, at offset 0) holding the BPF program.

    Returns:
        The descriptor; the caller passes it to bubblewrap's ``--seccomp`` and closes it.

    Raises:
        InternalError: libseccomp (or ``pyseccomp``) is missing or refuses the filter.
    """
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        for name in denied():
            try:
                rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
            except OSError as err:
                if err.errno != errno.EINVAL:  # EINVAL: a call this architecture does not have
                    raise
        for call in ("socket", "socketpair"):
            for arg in _refused_families(seccomp):
                rules.add_rule(seccomp.ERRNO(errno.EPERM), call, arg)
    except (ImportError, OSError, RuntimeError) as err:
        raise InternalError(
            "the jail's seccomp filter cannot be built: install libseccomp2 and the "
            "pyseccomp package on this worker"
        ) from err
    fd = os.memfd_create("jail-seccomp", 0)
    try:
        with os.fdopen(os.dup(fd), "wb") as handle:
            rules.export_bpf(handle)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
