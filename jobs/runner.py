"""Run jobs on Ray, beside the data.

The service hands a :class:`Task` to :meth:`RayRunner.run`; a Ray task reads
the dataset's Parquet (the caller never does), evaluates the spec, writes
the result into the quarantine folder and returns only metadata. Ray is the
engine, never a door: a local Ray starts with its dashboard off and bound to
loopback, and nothing here exposes its job API.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.errors import InternalError, InvalidJobSpec, JobFailed, redacted_traceback
from jobs.spec import AggregateSpec, parse_job_spec

if TYPE_CHECKING:
    from jobs.kinds.aggregate.engine import DatasetContext

log = logging.getLogger(__name__)


#: Memory Ray reserves for a custom job's trusted wrapper (the jail's own is capped apart).
CUSTOM_WRAPPER_MEMORY = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Task:
    """Everything a Ray task needs; plain values only (it crosses process boundaries)."""

    job_id: int
    spec: dict[str, Any]
    inputs: dict[str, str]  # dataset name -> Parquet path
    row_counts: dict[str, int]  # dataset name -> catalogued rows (public)
    output_path: str
    min_cell: int
    seed: int | None = None
    #: Dataset name -> its privacy-unit column (absent or ``None``: one row per person).
    privacy_units: dict[str, str | None] = field(default_factory=dict)
    #: Dataset name -> {column: declared key domain} ({} when none is declared). A dataset
    #: missing here gets the legacy contract of a caller that predates key domains
    #: (see :func:`execute`).
    public_keys: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    #: Dataset name -> columns the catalog declares free of nulls.
    non_null_columns: dict[str, list[str]] = field(default_factory=dict)
    #: Dataset name -> {column: {"dtype": polars dtype name, "tag": ColumnTag value}}.
    columns: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    #: Dataset name -> security grade (``general`` / ``important`` / ``core``).
    grades: dict[str, str] = field(default_factory=dict)
    #: Kind-specific settings the service derives from the grant and its own settings
    #: (e.g. an extract's minimum k and pseudonym key, a custom job's jail limits).
    options: dict[str, Any] = field(default_factory=dict)
    #: Dataset name -> the noisy row count operators see (``sandbox.catalog.facts``). What
    #: an operator is charged must not be a function of the exact count (DP-SGD's sampling
    #: rate): absent, the catalogued count stands in (callers that predate it).
    public_rows: dict[str, int] = field(default_factory=dict)

    def charged_rows(self, dataset: str) -> int:
        """The row count a charge visible to the operator may depend on."""
        return self.public_rows.get(dataset, self.row_counts[dataset])


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a finished task reports; no data values."""

    output_path: str
    output_sha256: str
    rows: int
    epsilon: float
    delta: float
    cells: int = 0
    suppressed_cells: int = 0
    rho: float | None = None
    #: Kind-specific report for the reviewer (e.g. an extract's risk report); counts, no values.
    report: dict[str, Any] = field(default_factory=dict)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_context(task: Task, dataset: str) -> DatasetContext:
    """The public facts the engine needs about ``dataset``, from a task that carries them.

    Raises:
        InternalError: The task carries no key domains for ``dataset``.
    """
    from jobs.dp.plan import rows_bound
    from jobs.kinds.aggregate.engine import DatasetContext

    if dataset not in task.public_keys:
        raise InternalError("the task carries no catalog context for its dataset")
    return DatasetContext(
        privacy_unit=task.privacy_units.get(dataset),
        public_keys=task.public_keys[dataset],
        min_cell=task.min_cell,
        # sized from the public count: the grid of released sums must not tell the exact one
        max_rows=(
            rows_bound(task.public_rows[dataset])
            if dataset in task.public_rows
            else task.row_counts[dataset]
        ),
        non_null_columns=frozenset(task.non_null_columns.get(dataset, ())),
    )


def execute(task: Task) -> Outcome:
    """Evaluate a task in this process (tests, and the in-process runner).

    Ray runs the same evaluation partition by partition (:mod:`jobs.distributed`);
    both give the same result before noise.

    Raises:
        JobFailed: With a message that carries no data value.
        InternalError: The task carries no catalog context for its dataset.
    """
    import polars as pl

    from jobs.kinds.aggregate.engine import evaluate

    spec = parse_job_spec(task.spec)
    if not isinstance(spec, AggregateSpec):
        from jobs.distributed import executor

        return executor(spec.kind)(task)
    context = dataset_context(task, spec.dataset)
    with evaluation_errors():
        result = evaluate(pl.scan_parquet(task.inputs[spec.dataset]), spec, context, seed=task.seed)
    return write_result(task, result)


@contextmanager
def evaluation_errors() -> Iterator[None]:
    """Turn engine and polars errors into :class:`JobFailed` without their messages."""
    import polars as pl

    try:
        yield
    except InvalidJobSpec as err:
        raise JobFailed(str(err)) from None
    except pl.exceptions.PolarsError as err:
        # Polars messages can quote values; keep only the error class.
        raise JobFailed(
            f"the query failed while evaluating ({type(err).__name__}); "
            "check the filter values' types against the schema"
        ) from None


def write_result(task: Task, result: Any) -> Outcome:
    """Write a released table into quarantine (atomically) and describe it."""
    out = Path(task.output_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial")
    result.table.write_parquet(tmp)
    os.replace(tmp, out)
    return Outcome(
        output_path=str(out),
        output_sha256=sha256_file(out),
        rows=result.table.height,
        epsilon=result.epsilon,
        delta=result.delta,
        cells=result.cells,
        suppressed_cells=result.suppressed_cells,
        rho=result.rho,
    )


class RayRunner:
    """Submits tasks to Ray and waits for them.

    Args:
        address: ``None`` starts a local Ray (dashboard off, loopback only);
            otherwise the address of an existing cluster (``SANDBOX_RAY_ADDRESS``).
        num_cpus: CPUs a local Ray may use.
        timeout_s: Wall-clock limit of one task; it is cancelled after.
    """

    def __init__(
        self, address: str | None = None, num_cpus: int | None = None, timeout_s: float = 600.0
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.timeout_s = timeout_s
        self._partial: Any = None
        self._finish: Any = None
        self._single: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Connect to or start Ray once per process; later calls do nothing (thread-safe)."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        import ray

        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
                "namespace": "data-sandbox",
            }
            if self.address is None:
                options |= {"num_cpus": self.num_cpus, "_node_ip_address": "127.0.0.1"}
                ray.init(**options)
            else:
                ray.init(address=self.address, **options)
        if self._partial is None:
            from jobs.distributed import finish, partial, single

            self._partial = ray.remote(max_retries=0)(partial)
            self._finish = ray.remote(max_retries=0)(finish)
            self._single = ray.remote(max_retries=0)(single)

    def run(self, task: Task) -> Outcome:
        """Run ``task`` on Ray and block until it finishes.

        Raises:
            JobFailed: The task failed or ran out of time; the message is safe to show.
        """
        import ray
        from ray.exceptions import GetTimeoutError, RayError, RayTaskError

        from jobs.distributed import partition_files

        self.start()
        payload = asdict(task)
        spec = parse_job_spec(task.spec)
        parts: list[Any] = []
        if isinstance(spec, AggregateSpec):
            # One task per partition computes exact partials; one more adds noise once.
            parts = [
                self._partial.remote(payload, f) for f in partition_files(task.inputs[spec.dataset])
            ]
            if not parts:
                raise InternalError("the dataset has no stored partitions")
            ref = self._finish.remote(payload, *parts)
        elif spec.kind == "custom":
            # Custom code's run time is hidden from the operator; holding one of Ray's CPU
            # slots for as long as it chose, it would hold back the tasks of the operator's
            # visible jobs in Ray's queue. It takes no slot (its jail caps its CPU and
            # memory); it still shares the cores. The trusted wrapper's own memory is
            # bounded (chunked copies, capped images and JSON) and reserved.
            ref = self._single.options(num_cpus=0, memory=CUSTOM_WRAPPER_MEMORY).remote(payload)
        else:
            # Extracts and training read the whole dataset in one task.
            ref = self._single.remote(payload)
        timeout = self.timeout_s
        if spec.kind == "custom":
            from jobs.kinds.custom.jail import Limits

            # The jail kills the code at its own wall-clock limit and reports why;
            # Ray must not cut the trusted wrapper off before that.
            wall = Limits.from_grant(task.options.get("limits")).wall_s
            timeout = max(timeout, wall + 60.0)
        try:
            return Outcome(**ray.get(ref, timeout=timeout))
        except GetTimeoutError:
            for pending in (ref, *parts):
                ray.cancel(pending, force=True)
            raise JobFailed(f"the job ran longer than {timeout:g} s and was stopped") from None
        except RayTaskError as err:
            cause = err.cause
            if isinstance(cause, JobFailed):
                raise JobFailed(str(cause)) from None
            # The server log stays inside the boundary; the operator sees no detail.
            log.error("job %s failed in Ray\n%s", task.job_id, redacted_traceback(cause))
            raise JobFailed(
                f"the job failed inside the sandbox ({type(cause).__name__}); "
                "the data bureau can see the server log"
            ) from None
        except RayError as err:
            raise InternalError("the compute engine is unavailable; try again later") from err

    def stop(self) -> None:
        """Disconnect from Ray (a local Ray shuts down)."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        self._partial = self._finish = self._single = None
