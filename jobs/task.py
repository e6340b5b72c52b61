"""What crosses between the service and a running job: :class:`Task` and :class:`Outcome`.

The runner (:mod:`jobs.runner`), the Ray tasks (:mod:`jobs.distributed`) and
every kind's engine import this module; it imports none of them, so no
import cycle runs through the runner. :func:`jobs.runner.execute` runs a task in this
process by asking its kind (:data:`jobs.kinds.KINDS`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jobs import scratch, storage
from jobs.errors import InternalError, InvalidJobSpec, JobFailed

__all__ = [
    "Outcome",
    "Task",
    "evaluation_errors",
    "partition_files",
    "sha256_file",
    "staged",
    "write_result",
]


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
    #: (the kind refuses to run without it where it needs it).
    public_keys: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    #: Dataset name -> columns the catalog declares free of nulls.
    non_null_columns: dict[str, list[str]] = field(default_factory=dict)
    #: Dataset name -> {column: {"dtype": polars dtype name, "tag": ColumnTag value}}.
    columns: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    #: Dataset name -> security grade (``general`` / ``important`` / ``core``).
    grades: dict[str, str] = field(default_factory=dict)
    #: Kind-specific settings the service derives from the grant and its own settings
    #: (:meth:`jobs.kinds.base.JobKind.options`).
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


#: Private folders where outputs bound for object storage are written first.
OUTPUT_PREFIX = "sandbox-output-"


def staged(task: Task, run: Callable[[Task], Outcome]) -> Outcome:
    """Run ``task`` with ``run``; an output bound for object storage is written locally first.

    Engines write their output to a local file and rename it into place. When
    quarantine is in object storage, ``run`` gets a task whose output path lies
    in a private temporary folder; the file it wrote is then put, whole, beside
    ``task.output_path`` under the name the engine gave it (``.zip``,
    ``.safetensors``...), and the outcome names that object.
    """
    if not storage.is_remote(task.output_path):
        return run(task)
    # named by this process: what a task killed at its time limit left is swept by the next
    with scratch.folder(OUTPUT_PREFIX) as folder:
        local = folder / storage.name(task.output_path)
        outcome = run(replace(task, output_path=str(local)))
        written = Path(outcome.output_path)
        if written.parent != local.parent:
            raise InternalError("a job kind wrote its output outside the folder it was given")
        target = storage.join(storage.parent(task.output_path), written.name)
        storage.put_file(written, target)
        return replace(outcome, output_path=target)


def partition_files(pattern: str) -> list[str]:
    """The partition files a task's input names (a glob, local or remote), in partition order."""
    return storage.glob(pattern)
