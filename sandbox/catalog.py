"""Dataset catalog: ingest, classification and what operators may see (art. 20, 62, 63).

Ingest reads CSV or Parquet, writes the data folder's own Parquet copy,
and records the schema, the row count, the SHA-256 of the stored file and
its provenance. Every column must carry a tag: an untagged column is
refused rather than guessed, since a wrong guess would let an identifier
into a query.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.runner import sha256_file
from policies.catalog import ColumnTag, Grade, OpenAttribute
from policies.errors import Conflict, InvalidRequest, NotFound
from sandbox import audit
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import Dataset, DatasetColumn

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """What a steward declares about a dataset."""

    name: str
    source: str
    open_attribute: OpenAttribute
    grade: Grade
    tags: Mapping[str, ColumnTag]
    description: str = ""


def read_table(path: Path) -> pl.DataFrame:
    """Read a CSV or Parquet file by its content, not its name.

    Raises:
        InvalidRequest: Neither format, or unreadable.
    """
    with path.open("rb") as handle:
        magic = handle.read(4)
    try:
        if magic == b"PAR1":
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema_length=10_000, try_parse_dates=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError, OSError) as err:
        raise InvalidRequest(
            f"the file could not be read as CSV (UTF-8, header row) or Parquet "
            f"({type(err).__name__})"
        ) from None


def ingest(
    db: Database, settings: Settings, actor: str, user_id: int, upload: Path, request: IngestRequest
) -> Dataset:
    """Store ``upload`` as a catalogued dataset.

    Raises:
        InvalidRequest: Bad name, unreadable file, empty table, tags that do
            not cover the columns exactly.
        Conflict: The name is taken.
    """
    if not _NAME.match(request.name):
        raise InvalidRequest(
            "a dataset name is 2-64 characters of a-z, 0-9 and '_', starting with a letter"
        )
    if not request.source.strip():
        raise InvalidRequest("record the dataset's source (provenance, art. 63)")
    frame = read_table(upload)
    if frame.height == 0:
        raise InvalidRequest("the table has no rows")
    missing = [c for c in frame.columns if c not in request.tags]
    extra = sorted(set(request.tags) - set(frame.columns))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"untagged columns: {', '.join(missing)}")
        if extra:
            parts.append(f"tags for columns the file lacks: {', '.join(extra)}")
        raise InvalidRequest("; ".join(parts) + " (tag every column exactly once)")

    with db.session() as session:
        if session.scalar(select(Dataset).where(Dataset.name == request.name)) is not None:
            raise Conflict(f"a dataset named '{request.name}' exists already")
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    # A unique file per ingest: a concurrent ingest of the same name that
    # loses the race removes its own file, never the winner's.
    final = settings.datasets_dir / f"{request.name}-{uuid.uuid4().hex}.parquet"
    tmp = final.with_suffix(".partial")
    frame.write_parquet(tmp, statistics=True)
    digest = sha256_file(tmp)
    os.replace(tmp, final)
    os.chmod(final, 0o440)
    try:
        with db.session() as session:
            dataset = Dataset(
                name=request.name,
                description=request.description,
                source=request.source,
                open_attribute=request.open_attribute.value,
                grade=request.grade.value,
                path=str(final.resolve()),
                sha256=digest,
                row_count=frame.height,
                created_by=user_id,
                columns=[
                    DatasetColumn(
                        position=i, name=c, dtype=str(frame.schema[c]), tag=request.tags[c].value
                    )
                    for i, c in enumerate(frame.columns)
                ],
            )
            session.add(dataset)
            session.flush()
            audit.append(
                db,
                session,
                actor,
                "dataset.ingest",
                f"dataset:{dataset.id}",
                name=request.name,
                sha256=digest,
                rows=frame.height,
                grade=request.grade.value,
                open_attribute=request.open_attribute.value,
            )
            return dataset
    except Exception:
        final.unlink(missing_ok=True)
        raise


def get(session: Session, name: str) -> Dataset:
    """A dataset by name.

    Raises:
        NotFound: No such dataset.
    """
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        raise NotFound(f"no dataset named '{name}'")
    return dataset


def list_all(session: Session) -> list[Dataset]:
    """Every dataset, by name."""
    return list(session.scalars(select(Dataset).order_by(Dataset.name)))


def copy_upload(stream: object, dest: Path, limit: int) -> int:
    """Copy a file-like upload to ``dest`` with a size limit; return bytes written.

    Raises:
        InvalidRequest: The upload is larger than ``limit``.
    """
    written = 0
    with dest.open("wb") as out:
        while chunk := stream.read(1 << 20):  # type: ignore[attr-defined]
            written += len(chunk)
            if written > limit:
                raise InvalidRequest(f"the upload is larger than {limit} bytes")
            out.write(chunk)
    return written


__all__ = ["IngestRequest", "copy_upload", "get", "ingest", "list_all", "read_table"]
