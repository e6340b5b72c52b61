"""The resource limits of one jailed run, and the ranges a grant may set them in.

Light on import (no process or file system code): the custom kind's timeout
and the console's grant form read them without loading the jail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from policies.errors import InvalidRequest

__all__ = ["GIB", "KIB", "LIMIT_RANGES", "MIB", "Limits"]

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


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
    memory_bytes: int = 4 * GIB
    processes: int = 64
    file_size_bytes: int = 256 * MIB
    open_files: int = 256
    output_bytes: int = 512 * MIB
    output_files: int = 200
    tmp_bytes: int = 256 * MIB
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
    "memory_bytes": (256 * MIB, 32 * GIB),
    "processes": (8, 512),
    "file_size_bytes": (1 * MIB, 4 * GIB),
    "open_files": (32, 4096),
    "output_bytes": (1 * MIB, 4 * GIB),
    "output_files": (1, 1000),
    "tmp_bytes": (1 * MIB, 4 * GIB),
    "cpu_percent": (5, 400),
}
