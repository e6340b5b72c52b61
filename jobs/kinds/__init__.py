"""The registry of job kinds: :data:`KINDS`.

Each built-in kind is a package ``jobs/kinds/<kind>/`` whose ``__init__``
exposes ``KIND``, an object satisfying :class:`jobs.kinds.base.JobKind`. The
spec union that parses a submitted spec is built from the registry, so a kind
registered here (a test's toy kind included, with :meth:`Registry.registered`)
is accepted everywhere without another file knowing its name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, Union

from pydantic import Field, TypeAdapter, ValidationError

from jobs.kinds.base import JobKind, KindCheckFacts, OutputShape, PartitionedKind
from jobs.spec import SpecModel, invalid_spec

if TYPE_CHECKING:
    from jobs.kinds.aggregate.spec import AggregateSpec
    from jobs.kinds.custom.spec import CustomSpec
    from jobs.kinds.extract.spec import ExtractSpec
    from jobs.kinds.train.spec import TrainSpec

    #: Any built-in kind's spec (annotations; a registered kind's spec parses too).
    AnySpec: TypeAlias = AggregateSpec | ExtractSpec | TrainSpec | CustomSpec
else:
    AnySpec = SpecModel

__all__ = [
    "KINDS",
    "AnySpec",
    "JobKind",
    "KindCheckFacts",
    "OutputShape",
    "PartitionedKind",
    "Registry",
    "job_spec_adapter",
    "parse_job_spec",
]


def _builtin() -> tuple[JobKind, ...]:
    """The built-in kinds, in the order lists show them (their packages are light)."""
    from jobs.kinds import aggregate, custom, extract, train

    return (aggregate.KIND, extract.KIND, train.KIND, custom.KIND)


class Registry:
    """The registered kinds, by name; built-ins load on first use."""

    def __init__(self, builtin: Callable[[], Sequence[JobKind]]) -> None:
        self._builtin = builtin
        self._kinds: dict[str, JobKind] | None = None
        self._lock = threading.RLock()
        #: Bumped on every change (caches built from the registry key on it).
        self.version = 0

    def _loaded(self) -> dict[str, JobKind]:
        with self._lock:
            if self._kinds is None:
                found: dict[str, JobKind] = {}
                for kind in self._builtin():
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
KINDS = Registry(_builtin)


_adapter_lock = threading.Lock()
_adapter: tuple[int, TypeAdapter[Any]] | None = None


def job_spec_adapter() -> TypeAdapter[Any]:
    """The pydantic adapter of the spec union over the registered kinds.

    Built again when the registry changes (a kind registered later parses too).
    """
    global _adapter
    with _adapter_lock:
        kinds = tuple(KINDS)
        version = KINDS.version
        if _adapter is None or _adapter[0] != version:
            types = tuple(k.spec_type for k in kinds)
            union: Any = types[0] if len(types) == 1 else Union[types]  # noqa: UP007
            if len(types) > 1:
                union = Annotated[union, Field(discriminator="kind")]
            _adapter = (version, TypeAdapter(union))
        return _adapter[1]


def parse_job_spec(data: object) -> AnySpec:
    """Validate a JSON-like object as a job spec of a registered kind.

    Raises:
        InvalidJobSpec: With pydantic's locations and messages, but not the input values.
    """
    try:
        spec: AnySpec = job_spec_adapter().validate_python(data)
    except ValidationError as err:
        raise invalid_spec(err) from None
    return spec
