"""The one shape every check has: what it reads (:class:`Contents`, :class:`CheckContext`)
and what it answers (:class:`Check`).

A check is a module ``sandbox/checks/<name>.py`` with ``NAME`` (its file's
name), ``ON_EMPTY`` (whether it runs when no file of the output could be
read) and ``run(contents, context) -> Check``; :mod:`sandbox.checks.registry`
lists it. No check branches on a job kind's name: the kind tells the checks
what they need (:class:`jobs.kinds.base.KindCheckFacts`) and the product it
releases, and they decide on those.

This module is light (no polars): the API, the console and the airlock import
:func:`blocking` from it, and the checks' child process imports it before it
limits itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from policies.catalog import Product
from policies.errors import InternalError

if TYPE_CHECKING:
    import polars as pl

    from jobs.kinds.base import JobKind, KindCheckFacts
    from sandbox.checks.support.files import Member
    from sandbox.checks.support.rows import Matching
    from sandbox.checks.support.tables import Table, Text

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_REASON",
    "Check",
    "CheckContext",
    "CheckModule",
    "Contents",
    "Verdict",
    "blocking",
    "worst",
]

Verdict = Literal["pass", "warn", "fail"]

DEFAULT_MAX_BYTES = 1 << 30
#: Longest reason of a check (a reason lists names; thousands of them help no reviewer).
MAX_REASON = 1000
_ORDER: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True, slots=True)
class Check:
    """One automatic check's verdict."""

    name: str
    verdict: Verdict
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the checks need to know about a job besides its output.

    A plain, picklable value: the service builds it (:meth:`build`) and sends
    it to the checks' child process.

    Attributes:
        kind: The job kind's name, for reasons only ("a … job may release …");
            no check branches on it.
        product: The derived product the kind releases; the checks decide on it
            (statistics: declared count columns, noisy group keys; records:
            classes of k, pseudonyms, the inputs' rows as the row cap).
        formats: File formats the output may hold at its top level.
        min_cell: The smallest count a released cell may show.
        count_columns: Output columns that are counts (histograms included).
        public_keys: Group keys with their declared public domain (e.g. the 13
            cities). A column is not scanned for identifiers when every value
            it holds is in its domain; a value outside the domain (an ID
            smuggled under a key's name) gets it scanned like any other.
        inputs: Dataset -> Parquet glob of its stored parts.
        tags: Dataset -> {column: catalog tag}.
        k: The k a records output enforced; classes smaller than this fail
            (default: ``min_cell``).
        pseudonyms: Columns of keyed pseudonyms in a records output (the grant
            allows linkage).
        privacy_units: Dataset -> its privacy-unit column (a household or
            person key). Checked as a direct identifier whatever its tag:
            its values single out the unit.
        max_rows: Row cap; None for the product's default (statistics
            100,000; records the inputs' rows; models and program outputs
            1,000,000).
        max_bytes: Cap on the output's stored and uncompressed bytes.

    Raises:
        InternalError: An unknown product, no format, or a non-positive
            threshold (a fault of the caller).
    """

    kind: str
    product: Product
    formats: frozenset[str]
    min_cell: int
    count_columns: tuple[str, ...] = ()
    public_keys: Mapping[str, Sequence[object]] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    k: int | None = None
    pseudonyms: frozenset[str] = frozenset()
    privacy_units: Mapping[str, str] = field(default_factory=dict)
    max_rows: int | None = None
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if not isinstance(self.product, Product):
            raise InternalError(f"no checks for job kind '{self.kind}' (no product)")
        if not self.formats:
            raise InternalError(f"no checks for job kind '{self.kind}' (no output format)")
        if self.min_cell < 1 or (self.k is not None and self.k < 1) or self.max_bytes < 1:
            raise InternalError("min_cell, k and max_bytes of a check context must be positive")

    @classmethod
    def build(
        cls,
        kind: JobKind,
        facts: KindCheckFacts,
        *,
        min_cell: int,
        public_keys: Mapping[str, Sequence[object]] | None = None,
        inputs: Mapping[str, str] | None = None,
        tags: Mapping[str, Mapping[str, str]] | None = None,
        privacy_units: Mapping[str, str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> CheckContext:
        """The context of one job: what its kind tells, and the job's public facts.

        Args:
            kind: The job's kind (its name and product).
            facts: What the kind tells about this job's output
                (:meth:`jobs.kinds.base.JobKind.check_facts`).
            min_cell: The smallest count a released cell may show.
            public_keys: Group key -> its declared public domain.
            inputs: Dataset -> Parquet glob of its stored parts.
            tags: Dataset -> {column: catalog tag}.
            privacy_units: Dataset -> its privacy-unit column.
            max_bytes: Cap on the output's stored and uncompressed bytes.

        Raises:
            InternalError: See the class.
        """
        return cls(
            kind=kind.name,
            product=kind.product,
            formats=frozenset(facts.formats),
            min_cell=min_cell,
            count_columns=tuple(facts.count_columns),
            public_keys=dict(public_keys or {}),
            inputs=dict(inputs or {}),
            tags={d: dict(c) for d, c in (tags or {}).items()},
            k=facts.k,
            pseudonyms=frozenset(facts.pseudonyms),
            privacy_units=dict(privacy_units or {}),
            max_rows=facts.max_rows,
            max_bytes=max_bytes,
        )

    @property
    def records(self) -> bool:
        """Whether the output is row-level records (classes of k, pseudonyms allowed)."""
        return self.product is Product.RECORDS

    @property
    def statistics(self) -> bool:
        """Whether the output is noisy statistics (declared counts, group keys)."""
        return self.product is Product.STATISTICS


@dataclass(frozen=True, slots=True)
class Contents:
    """An output as the engine read it, once, for every check.

    Attributes:
        members: Its files fit to check, identified by content.
        names: The archive's file names (every member's, fit or not).
        tables: Its tables (Parquet, CSV, arrays of records in JSON), as far
            as the readers' budget went.
        texts: Its texts (plain text, JSON strings, PNG text chunks,
            safetensors headers and integer tensors, Parquet metadata).
        images: Names of its images (no automatic scan reads them).
        problems: Why files are not what they claim or could not be read.
        oversize: What exceeds the byte cap or the readers' budget (unread).
        content_bytes: Uncompressed bytes of its files.
        max_rows: The row cap of this output.
        inputs: Dataset -> its stored rows, lazily.
        matchings: (table, dataset) -> how the table's columns meet the
            dataset's, by content.
    """

    members: tuple[Member, ...]
    names: tuple[str, ...]
    tables: tuple[Table, ...]
    texts: tuple[Text, ...]
    images: tuple[str, ...]
    problems: tuple[str, ...]
    oversize: tuple[str, ...]
    content_bytes: int
    max_rows: int
    inputs: Mapping[str, pl.LazyFrame]
    matchings: Mapping[tuple[str, str], Matching]


class CheckModule(Protocol):
    """A check: a module ``sandbox/checks/<NAME>.py`` listed in the registry."""

    #: The check's name: its module's name, and what reports and reviews call it.
    NAME: str
    #: Whether it runs when no file of the output could be read (the file checks do).
    ON_EMPTY: bool

    def run(self, contents: Contents, context: CheckContext) -> Check:
        """The check's verdict on ``contents``; a reason with names and counts, never a value."""
        ...


def blocking(checks: list[dict[str, Any]]) -> list[str]:
    """Names of the checks that block approval."""
    return [c["name"] for c in checks if c["verdict"] == "fail"]


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The most severe of ``verdicts`` (``pass`` when there are none).

    >>> worst(["pass", "warn"])
    'warn'
    """
    found: Verdict = "pass"
    for verdict in verdicts:
        if _ORDER[verdict] > _ORDER[found]:
            found = verdict
    return found
