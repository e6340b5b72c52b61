"""Personal-information scans of a job's tables, their free text spread over Ray.

The rules of :func:`anonymize.detect.vector.scan_table` are polars
expressions and cheap; the trained tagger that fusion adds for free-text
cells (:mod:`anonymize.detect.fusion`, at least ``MIN_HAN`` Chinese
characters) costs about 1 to 3 ms a cell. An extract runs whole in one Ray
task (k-anonymity needs every record at once), so a large free-text column
would be read by one core while the others idle. :func:`scan_table` answers
what ``vector.scan_table`` answers, but when Ray is up in this process (a
job's task: Ray's workers are connected) and the table holds at least
:data:`IN_PROCESS_CELLS` free-text cells, the text columns holding free text
are cut into row slices of about equal free-text work, one Ray task each,
while this process scans the structured columns itself (the vector path, no
tagger). Slices travel as Arrow tables, never pickled polars; findings come
back as Arrow with slice-local rows, shifted and put back in the column
order. Every finding lies within one cell and fusion reads each cell
(sentence by sentence) on its own, so the findings are exactly the
in-process ones (``tests/unit/jobs/test_scan.py``).

Each worker process loads the tagger once, on first use
(:func:`anonymize.detect.tagger.tagger`, a process-wide singleton), and keeps
it: Ray reuses its CPU workers across tasks and jobs (no ``max_calls``), so a
worker pays the load (about a second) once, not per task. A task blocked in
``ray.get`` lends its CPU back to Ray, so the extract's own slot does not
hold back its slices. Without Ray, or below the threshold, the scan runs in
this process, as it always did.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

__all__ = ["IN_PROCESS_CELLS", "TASK_CELLS", "row_cuts", "scan_table", "warm_tagger"]

#: Free-text cells below which a scan stays in this process (a task and a tagger load cost more).
IN_PROCESS_CELLS = 2_000
#: Free-text cells a Ray task reads at least (fewer, larger slices: each worker's tagger batches).
TASK_CELLS = 1_000

_REMOTE: Any = None
_REMOTE_LOCK = threading.Lock()


def _ray_up() -> bool:
    """Whether this process is connected to Ray (never imports Ray just to ask)."""
    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())


def _free_text_per_row(frame: pl.DataFrame, columns: Sequence[str]) -> pl.Series:
    """Free-text cells of each row over ``columns`` (fusion's test as a polars expression)."""
    from anonymize.detect.fusion import HAN_CLASS, MIN_HAN

    counts = [
        (pl.col(c).str.count_matches(HAN_CLASS).fill_null(0) >= MIN_HAN).cast(pl.UInt32)
        for c in columns
    ]
    return frame.select(pl.sum_horizontal(counts).alias("cells")).to_series()


def row_cuts(per_row: pl.Series, parts: int) -> list[int]:
    """Row boundaries ``[0, …, n]`` cutting ``per_row``'s work into ``parts`` near-equal slices.

    >>> row_cuts(pl.Series([1, 1, 1, 1, 0, 0, 1, 1]), 2)
    [0, 3, 8]
    """
    n = per_row.len()
    total = int(per_row.sum())
    if parts < 2 or total == 0:
        return [0, n]
    done = per_row.cum_sum()
    goals = pl.Series([total * i / parts for i in range(1, parts)])
    inner = [int(i) + 1 for i in done.search_sorted(goals, side="left")]
    return sorted({0, n, *(min(i, n) for i in inner)})


def _scan_slice(
    table: Any, entities: list[str] | None, threshold: float, offset: int
) -> Any:  # pragma: no cover - runs in a Ray worker (covered through Ray in the tests)
    """Findings of one Arrow slice, rows shifted by ``offset``, as Arrow (a Ray task)."""
    from anonymize.detect.vector import scan_table as scan

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    found = scan(frame, entities=entities, threshold=threshold, fuse=True)
    return found.with_columns(pl.col("row") + offset).to_arrow()


def _remote() -> Any:
    """:func:`_scan_slice` as a Ray remote function, made once per process."""
    global _REMOTE
    with _REMOTE_LOCK:
        if _REMOTE is None:
            import ray

            _REMOTE = ray.remote(max_retries=0)(_scan_slice)
        return _REMOTE


def _parts(cells: int, task_cells: int) -> int:
    """Slices for ``cells`` free-text cells: one per CPU of the cluster at most."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
    return max(1, min(cpus, cells // max(task_cells, 1)))


def scan_table(
    frame: pl.DataFrame,
    columns: list[str] | None = None,
    entities: Iterable[str] | None = None,
    threshold: float = 0.5,
    *,
    in_process_below: int | None = None,
    task_cells: int | None = None,
) -> pl.DataFrame:
    """:func:`anonymize.detect.vector.scan_table` (rules fused with the tagger), free text on Ray.

    Args:
        frame: The table to scan.
        columns: Columns to scan (default: all), in the order findings are wanted.
        entities: Entity names to look for (default: all).
        threshold: Smallest score reported.
        in_process_below: Fewer free-text cells than this stay in this process
            (default :data:`IN_PROCESS_CELLS`).
        task_cells: Free-text cells a Ray task reads at least (default :data:`TASK_CELLS`).

    Returns:
        Exactly what ``vector.scan_table(frame, columns, entities, threshold)`` returns.

    Raises:
        AnonymizationError: An unknown column or entity name.
    """
    from anonymize.detect.entities import entity_set
    from anonymize.detect.findings import FINDINGS_SCHEMA
    from anonymize.detect.fusion import FUSED
    from anonymize.detect.vector import scan_table as scan

    names = list(frame.columns) if columns is None else list(columns)
    wanted = None if entities is None else list(entities)
    schema = frame.schema
    plain = len(set(names)) == len(names) and all(c in schema for c in names)
    if not (_ray_up() and plain and frame.height):  # (unknown names: the scan says which)
        return scan(frame, names, wanted, threshold)
    if not entity_set(wanted) & FUSED:  # (an unknown entity fails here, not in a worker)
        return scan(frame, names, wanted, threshold)  # no tagger: nothing worth spreading
    texts = [c for c in names if schema[c] == pl.String]
    per_column = {c: int(_free_text_per_row(frame, [c]).sum()) for c in texts}
    spread = [c for c in texts if per_column[c]]
    cells = sum(per_column.values())
    below = IN_PROCESS_CELLS if in_process_below is None else in_process_below
    parts = _parts(cells, TASK_CELLS if task_cells is None else task_cells) if cells >= below else 1
    if parts < 2:
        return scan(frame, names, wanted, threshold)
    import ray

    cuts = row_cuts(_free_text_per_row(frame, spread), parts)
    text = frame.select(spread)
    refs = [
        _remote().remote(text.slice(a, b - a).to_arrow(), wanted, threshold, a)
        for a, b in itertools.pairwise(cuts)
    ]
    rest = [c for c in names if c not in spread]
    here = scan(frame, rest, wanted, threshold, fuse=False) if rest else None
    there = [pl.from_arrow(t) for t in ray.get(refs)]
    found = pl.concat(
        [
            f.select([pl.col(n).cast(d) for n, d in FINDINGS_SCHEMA.items()])
            for f in [here, *there]
            if isinstance(f, pl.DataFrame)
        ]
    )
    # In the wanted column order; a stable sort keeps each column's rows (slices in order).
    rank = {c: i for i, c in enumerate(names)}
    return found.sort(pl.col("column").replace_strict(rank), maintain_order=True)


def warm_tagger() -> None:
    """Load this process's tagger in a background thread (a job that will read free text)."""

    def load() -> None:
        from anonymize.detect.tagger import tagger

        try:
            tagger()
        except Exception:  # pragma: no cover - the scan loads it again and reports the error
            return

    threading.Thread(target=load, name="tagger-warm", daemon=True).start()
