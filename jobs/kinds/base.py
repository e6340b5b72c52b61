"""The one shape every job kind has: the :class:`JobKind` protocol.

A kind lives in ``jobs/kinds/<kind>/``; its package's ``__init__`` builds one
object satisfying :class:`JobKind` and the registry (:mod:`jobs.kinds`) lists
it. The service, the runner, the checks, the airlock, the console, the API and
the client look a kind up by its name and call these members; none of them
branches on a kind's name.

A kind object's module imports only light code (its spec, policies): the
engines (polars, Ray, torch, the jail) are imported inside :meth:`JobKind.run`
and friends, so the analysts' light client can import the registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel

from policies.catalog import Product

if TYPE_CHECKING:
    from jobs.dp.accounting import Charge
    from jobs.facts import DatasetFacts, GrantFacts
    from jobs.task import Outcome, Task


class OutputShape(StrEnum):
    """How an analyst reads a kind's output (the client's ``result`` / ``model`` / ``files``)."""

    TABLE = "table"
    MODEL = "model"
    FILES = "files"


@dataclass(frozen=True, slots=True)
class KindCheckFacts:
    """What a kind tells the automatic checks about one job's output.

    Attributes:
        formats: File formats the output may hold (``parquet``, ``json``, ``zip``...).
        count_columns: Output columns that are counts of people or rows: the
            small-cell rule applies to each.
        k: The k a row-level output must meet over its quasi-identifiers
            (``None``: the output is not row-level records).
        pseudonyms: Columns holding keyed pseudonyms (the grant allows linkage).
        max_rows: Row cap of the output (``None``: the checks' default for the product).
    """

    formats: frozenset[str]
    count_columns: tuple[str, ...] = ()
    k: int | None = None
    pseudonyms: frozenset[str] = frozenset()
    max_rows: int | None = None


class Phrase(NamedTuple):
    """A line of text as an English message and its values, for a reader in any language.

    The console translates :attr:`message` (its msgid in the console's catalog) and then
    fills in :attr:`values`, translating any value that is itself a phrase; elsewhere
    ``str()`` gives the English.

    >>> str(Phrase("%(op)s of %(column)s", {"op": Phrase("mean"), "column": "income"}))
    'mean of income'
    """

    message: str
    values: Mapping[str, object] = {}

    def __str__(self) -> str:
        if not self.values:
            return self.message
        return self.message % {k: str(v) for k, v in self.values.items()}


#: A labelled line of :meth:`JobKind.describe`: the label is a msgid too.
Line = tuple[str, "str | Phrase"]


@runtime_checkable
class JobKind(Protocol):
    """A job kind: what it accepts, what it costs, how it runs, what it releases.

    Attributes:
        name: The kind's name in specs, grants and the API.
        spec_type: Its pydantic spec model (a ``kind: Literal[name]`` field).
        product: The derived product it releases (the grade rules read it).
        untimed: The operator sees neither its run times nor why a run failed
            (operator code could encode data in them).
        output_formats: File formats its output may hold.
        shape: How an analyst reads its output.
        description: One plain-language sentence (console, client, API).
        partitioned: Ray runs it partition by partition, exact partials then one
            release (it is then a :class:`PartitionedKind`); otherwise one task
            runs :meth:`run`.
    """

    name: str
    spec_type: type[BaseModel]
    product: Product
    untimed: bool
    output_formats: frozenset[str]
    shape: OutputShape
    description: str
    partitioned: bool

    def options(
        self, grant: GrantFacts, datasets: Sequence[DatasetFacts], secret: bytes
    ) -> dict[str, Any]:
        """Kind-specific settings from the grant, the datasets' facts and the deployment,
        never from the spec (they travel in :attr:`jobs.task.Task.options`).

        Raises:
            PolicyViolation: A rule forbids the grant's terms on these datasets
                (e.g. an extract of ``core`` data).
        """
        ...

    def validate(
        self, spec: Any, datasets: Sequence[DatasetFacts], options: Mapping[str, Any]
    ) -> None:
        """Raise unless ``spec`` may run on ``datasets`` (the grant's scope is checked apart).

        Raises:
            InvalidJobSpec: The spec does not fit the datasets.
            PolicyViolation: A rule forbids it (e.g. the grade × product table).
        """
        ...

    def charge(self, spec: Any, datasets: Sequence[DatasetFacts], min_cell: int) -> Charge:
        """What the ledger reserves; a function of public facts only."""
        ...

    def cost(self, spec: Any, charge: Charge) -> tuple[float, float]:
        """The (ε, δ) the job states and the operator sees."""
        ...

    def estimate(
        self,
        spec: Any,
        datasets: Sequence[DatasetFacts],
        min_cell: int,
        *,
        expected_group_size: int | None = None,
    ) -> dict[str, Any]:
        """What the job would cost and how accurate it would be, without running it.

        ``expected_group_size``: the operator's planning figure of rows per group
        (kinds without groups ignore it).
        """
        ...

    def run(self, task: Task) -> Outcome:
        """Run the job in this process (the runner calls it inside Ray)."""
        ...

    def ray_options(self, task: Task) -> dict[str, Any]:
        """What Ray must reserve for the job's tasks (``{}``: Ray's defaults)."""
        ...

    def timeout_s(self, task: Task, default: float) -> float:
        """How long the runner waits for the job, given the deployment's ``default``."""
        ...

    def failed_outcome(self, task: Task, reason: str) -> Outcome | None:
        """For an untimed kind, the reviewable outcome of a failed run; else ``None``."""
        ...

    def check_facts(self, spec: Any, task: Task) -> KindCheckFacts:
        """What the automatic checks need to know about this job's output."""
        ...

    def describe(self, spec: Any) -> list[Line]:
        """The spec as labelled lines a reviewer reads at a glance.

        Only the kind's own lines: the caller shows the kind and the datasets first.
        Words go in :class:`Phrase` messages (the console shows them in Chinese);
        names and numbers are values.
        """
        ...

    def privacy_statement(self, spec: Any, report: Mapping[str, Any]) -> dict[str, Any]:
        """What protects the people in a released product (for the signed manifest).

        Only the kind's own fields (``guarantee`` first); the caller puts the
        kind, ε, δ and the privacy unit before them.
        """
        ...


@runtime_checkable
class PartitionedKind(JobKind, Protocol):
    """A kind Ray runs partition by partition: exact partials in parallel, one release.

    A stored dataset's partitions split people (all of a person's rows in one
    part), so the partials merge exactly; the noise is added once, in :meth:`finish`.
    """

    def partitions(self, task: Task) -> list[str]:
        """The files one task each reads, in partition order."""
        ...

    def partial(self, task: Task, path: str) -> Any:
        """Exact partial measurements of one partition (sensitive: they stay in Ray)."""
        ...

    def finish(self, task: Task, parts: Sequence[Any]) -> Outcome:
        """Combine the partials, release once, write quarantine."""
        ...


class KindDefaults:
    """What most kinds do alike; a kind class inherits it and overrides what differs.

    The defaults: no kind-specific options, the charge's own (ε, δ) as the stated
    cost and the estimate, an operator who sees why a run failed (no reviewable
    failed outcome), one Ray CPU slot and the deployment's time limit.
    """

    name: str

    def charge(self, spec: Any, datasets: Sequence[DatasetFacts], min_cell: int) -> Charge:
        """Every kind states its own charge."""
        raise NotImplementedError

    def options(
        self, grant: GrantFacts, datasets: Sequence[DatasetFacts], secret: bytes
    ) -> dict[str, Any]:
        """None: the spec says everything."""
        del grant, datasets, secret
        return {}

    def cost(self, spec: Any, charge: Charge) -> tuple[float, float]:
        """The charge's own (ε, δ) statement."""
        del spec
        return charge.standalone

    def estimate(
        self,
        spec: Any,
        datasets: Sequence[DatasetFacts],
        min_cell: int,
        *,
        expected_group_size: int | None = None,
    ) -> dict[str, Any]:
        """The kind and its cost (no groups: ``expected_group_size`` is not used)."""
        del expected_group_size
        epsilon, delta = self.charge(spec, datasets, min_cell).standalone
        return {"kind": self.name, "epsilon": epsilon, "delta": delta}

    def failed_outcome(self, task: Task, reason: str) -> Outcome | None:
        """None: the operator sees why a run failed."""
        del task, reason
        return None

    def ray_options(self, task: Task) -> dict[str, Any]:
        """Ray's defaults: one CPU slot."""
        del task
        return {}

    def timeout_s(self, task: Task, default: float) -> float:
        """The deployment's limit."""
        del task
        return default
