"""The registry of job kinds: :data:`KINDS`.

Each built-in kind is a package ``jobs/kinds/<kind>/`` whose ``__init__``
exposes ``KIND``, an object satisfying :class:`jobs.kinds.base.JobKind`. The
spec union that parses a submitted spec is built from the registry, so a kind
registered here (a test's toy kind included, with :meth:`Registry.registered`)
is accepted everywhere without another file knowing its name.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from jobs.kinds.base import JobKind, KindCheckFacts, OutputShape, PartitionedKind

__all__ = ["KINDS", "JobKind", "KindCheckFacts", "OutputShape", "PartitionedKind", "Registry"]

#: The built-in kinds' packages, in the order lists show them.
_BUILTIN = ("aggregate", "extract", "train", "custom")


class Registry:
    """The registered kinds, by name; built-ins load on first use."""

    def __init__(self, builtin: tuple[str, ...]) -> None:
        self._builtin = builtin
        self._kinds: dict[str, JobKind] | None = None
        self._lock = threading.RLock()
        #: Bumped on every change (caches built from the registry key on it).
        self.version = 0

    def _loaded(self) -> dict[str, JobKind]:
        with self._lock:
            if self._kinds is None:
                found: dict[str, JobKind] = {}
                for package in self._builtin:
                    kind: JobKind = importlib.import_module(f"{__name__}.{package}").KIND
                    found[kind.name] = kind
                self._kinds = found
            return self._kinds

    def __iter__(self) -> Iterator[JobKind]:
        return iter(tuple(self._loaded().values()))

    def __len__(self) -> int:
        return len(self._loaded())

    def __contains__(self, name: object) -> bool:
        return name in self._loaded()

    def names(self) -> tuple[str, ...]:
        """The registered kinds' names, in order."""
        return tuple(self._loaded())

    def __getitem__(self, name: str) -> JobKind:
        """The kind called ``name``.

        Raises:
            InvalidJobSpec: No kind has that name (the message lists the known ones).
        """
        kinds = self._loaded()
        if name not in kinds:
            from jobs.errors import InvalidJobSpec

            raise InvalidJobSpec(f"unknown job kind; use one of: {', '.join(kinds)}")
        return kinds[name]

    def register(self, kind: JobKind) -> None:
        """Add ``kind``.

        Raises:
            ValueError: A kind of that name is registered already.
        """
        with self._lock:
            kinds = self._loaded()
            if kind.name in kinds:
                raise ValueError(f"job kind {kind.name!r} is registered already")
            kinds[kind.name] = kind
            self.version += 1

    def unregister(self, name: str) -> None:
        """Remove the kind called ``name`` (tests)."""
        with self._lock:
            self._loaded().pop(name, None)
            self.version += 1

    @contextmanager
    def registered(self, kind: JobKind) -> Iterator[JobKind]:
        """``kind`` registered for the duration of the block (tests' toy kinds)."""
        self.register(kind)
        try:
            yield kind
        finally:
            self.unregister(kind.name)


#: The registry every part of the sandbox looks kinds up in.
KINDS = Registry(_BUILTIN)
