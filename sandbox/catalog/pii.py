"""``sandbox pii scan``: stream a CSV or Parquet file through the vectorized detectors.

The file is read here, in the command's process, batch by batch. Free-text
cells are also read by the trained tagger (1 to 3 ms a cell), so each batch
goes through :func:`jobs.scan.scan_table`: with ``--ray`` the command joins
the deployment's Ray (``SANDBOX_RAY_ADDRESS``, else a local one) and a
batch's free-text columns are read in row slices on Ray's workers, each
loading the tagger once; without it, or for a batch with little free text,
the scan runs here. The findings are the same either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from policies.errors import InvalidRequest
from sandbox.catalog.uploads import open_upload


def scan_file_lines(
    path: Path,
    columns: Sequence[str] | None = None,
    batch_rows: int = 100_000,
    progress: Console | None = None,
) -> Iterator[str]:
    """Yield one JSON line per finding in ``path``, batch by batch.

    Args:
        path: A CSV (UTF-8 or GB18030/GBK; checked and copied to a private
            temporary file) or Parquet file, recognized by content.
        columns: Columns to scan; all when None.
        batch_rows: Rows per vectorized batch (bounds memory).
        progress: Where to draw a progress bar (stderr); none when None.

    Raises:
        InvalidRequest: Unreadable or malformed file (the line is named, never a
            value) or unknown columns.
    """
    with open_upload(path) as frame:
        try:
            yield from _scan_lines(frame, columns, batch_rows, progress)
        except pl.exceptions.PolarsError:
            # its message may quote a cell: it is dropped, never printed
            raise InvalidRequest(
                "the file could not be read; save it again (CSV UTF-8 or Parquet)"
            ) from None


def _scan_lines(
    frame: pl.LazyFrame,
    columns: Sequence[str] | None,
    batch_rows: int,
    progress: Console | None,
) -> Iterator[str]:
    from anonymize.detect.scan import header_findings
    from jobs.scan import scan_table

    schema = frame.collect_schema()
    wanted = list(columns) if columns else list(schema)
    missing = [c for c in wanted if c not in schema]
    if missing:
        raise InvalidRequest(f"the file has no columns: {', '.join(missing)}")
    total = int(frame.select(pl.len()).collect().item())
    bar = Progress(
        TextColumn("scanning"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} rows"),
        TimeRemainingColumn(),
        console=progress,
        disable=progress is None,
        transient=True,
    )
    keys = ("row", "column", "entity", "start", "end", "score")
    # A header can carry an identifier too (a pivoted table): its findings come first, row -1.
    headers = header_findings(pl.DataFrame(schema={c: pl.String for c in wanted}))
    for row in headers.iter_rows(named=True):
        yield json.dumps({k: row[k] for k in keys}, ensure_ascii=False)
    with bar:
        task = bar.add_task("scan", total=total)
        for offset in range(0, total, batch_rows):
            batch = frame.slice(offset, batch_rows).select(wanted).collect()
            found = scan_table(batch.select(pl.all().cast(pl.String)))
            for row in found.with_columns(pl.col("row") + offset).iter_rows(named=True):
                yield json.dumps({k: row[k] for k in keys}, ensure_ascii=False)
            bar.advance(task, batch.height)
