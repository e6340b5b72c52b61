"""Dataset catalog: ingest, classification and what operators may see (art. 20, 62, 63).

Ingest streams CSV or Parquet into the data folder's own Parquet copy,
partitioned by a hash of the privacy-unit column so that all of a person's
rows share one partition (Ray evaluates partitions in parallel and bounds
each person's contribution locally). It records the schema, the row count,
the SHA-256 of the stored files, provenance, the privacy unit, the
declared public key domains, the owning bureau (the ingesting steward's
organisation) and a noisy public row count drawn once
(:mod:`sandbox.catalog.facts`: operators see neither the exact count nor
the plain hash).

Every column gets a tag. The detectors propose one from a sample
(:func:`anonymize.classify.propose_tags`); the steward's declared tag
wins, except that a tag *less* protective than the proposal needs an
explicit override with a reason, which is audited.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from anonymize.detect.classify import Proposal, less_protective, propose_tags
from anonymize.hierarchies import TableHierarchy
from jobs import storage
from jobs.privacy_unit import known_unit, only_null_missing, person_order
from policies.airlock import MIN_REASON_LENGTH
from policies.catalog import (
    ColumnTag,
    Grade,
    OpenAttribute,
    check_group_size_bands,
    check_privacy_unit_coverage,
)
from policies.errors import Conflict, InvalidRequest, NotFound
from policies.names import check_name
from sandbox.audit import chain as audit
from sandbox.catalog import hierarchies as steward
from sandbox.catalog.facts import content_sha256, dataset_files, input_digest, public_row_count
from sandbox.catalog.uploads import open_upload
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import Dataset, DatasetColumn, User

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_PART = "__partition"
#: Largest declared public domain of one column.
MAX_PUBLIC_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """What a steward declares about a dataset.

    ``tags`` may leave columns out: they take the proposed tag. ``overrides``
    maps a column to the reason for declaring a tag less protective than
    the proposal. ``public_keys_confirm_reason`` accepts declared public keys
    that miss values of the data (their rows drop out of every result that
    groups by the column); it is audited. ``group_size_bands`` declares how many
    rows groups keyed by a column (or columns joined by commas) hold, for
    estimates (:func:`policies.catalog.check_group_size_bands`). ``hierarchies`` maps a
    quasi-identifier to its generalization hierarchy in ARX's CSV format, stored under
    the column's name (:mod:`sandbox.catalog.hierarchies`).
    """

    name: str
    source: str
    open_attribute: OpenAttribute
    grade: Grade
    tags: Mapping[str, ColumnTag]
    description: str = ""
    privacy_unit: str | None = None
    public_keys: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)
    public_keys_confirm_reason: str = ""
    group_size_bands: Mapping[str, Any] = field(default_factory=dict)
    hierarchies: Mapping[str, str] = field(default_factory=dict)


def scan_dataset(path: str | Path) -> pl.LazyFrame:
    """A lazy view of a stored dataset (all partitions)."""
    return storage.scan_parquet(dataset_files(path), hive_partitioning=False)


def _resolve_tags(
    columns: list[str], proposals: Mapping[str, Proposal], request: IngestRequest
) -> dict[str, tuple[ColumnTag, str]]:
    unknown = sorted(set(request.tags) - set(columns))
    if unknown:
        raise InvalidRequest(
            f"tags for columns the file lacks: {', '.join(unknown)} (tag every column once)"
        )
    resolved: dict[str, tuple[ColumnTag, str]] = {}
    refused: list[str] = []
    for column in columns:
        proposal = proposals[column]
        declared = request.tags.get(column)
        if declared is None:
            resolved[column] = (proposal.tag, "proposal")
        elif less_protective(declared, proposal.tag):
            reason = request.overrides.get(column, "")
            if len(reason.strip()) < MIN_REASON_LENGTH:
                refused.append(
                    f"{column} (declared {declared.value}, proposed "
                    f"{proposal.tag.value}: {proposal.rule})"
                )
                continue
            resolved[column] = (declared, "override")
        else:
            resolved[column] = (declared, "steward")
    if refused:
        raise InvalidRequest(
            "declared tags protect less than the detectors propose for: "
            + "; ".join(refused)
            + ". Declare the proposed tag, or pass an override with a reason for the column "
            f"(at least {MIN_REASON_LENGTH} characters)"
        )
    return resolved


def _check_keys(
    request: IngestRequest, schema: pl.Schema, tags: Mapping[str, tuple[ColumnTag, str]]
) -> dict[str, list[Any]]:
    if request.privacy_unit is not None and request.privacy_unit not in schema:
        raise InvalidRequest("the privacy unit must be a column of the file")
    keys: dict[str, list[Any]] = {}
    for column, values in request.public_keys.items():
        if column not in schema:
            raise InvalidRequest(f"public keys declared for a column the file lacks: {column}")
        if tags[column][0] is ColumnTag.DIRECT_IDENTIFIER:
            raise InvalidRequest(f"column '{column}' is a direct identifier: it has no public keys")
        distinct = list(dict.fromkeys(values))
        if not 1 <= len(distinct) <= MAX_PUBLIC_KEYS:
            raise InvalidRequest(f"declare between 1 and {MAX_PUBLIC_KEYS} public keys per column")
        try:
            pl.Series(distinct, strict=False).cast(schema[column], strict=True)
        except (pl.exceptions.PolarsError, TypeError):
            raise InvalidRequest(
                f"public keys of '{column}' do not fit its type {schema[column]}"
            ) from None
        keys[column] = distinct
    return keys


def _null_units(
    frame: pl.LazyFrame, schema: pl.Schema, unit: str | None, null_counts: Mapping[str, int]
) -> int:
    """Rows whose privacy unit names no one (:func:`jobs.privacy_unit.known_unit`: null, NaN
    or a blank string; jobs drop them)."""
    if unit is None:
        return 0
    if only_null_missing(schema[unit]):
        return int(null_counts[unit])
    return int(frame.select((~known_unit(unit, schema[unit])).sum()).collect().item())


def _missing_keys(
    frame: pl.LazyFrame, schema: pl.Schema, keys: Mapping[str, list[Any]]
) -> dict[str, int]:
    """Per key column, how many distinct values of the data its declared domain misses.

    Empty cells count as one value: their rows drop out of results too.
    """
    if not keys:
        return {}
    missing = [
        pl.col(c)
        .filter(~pl.col(c).is_in(pl.Series(v, strict=False).cast(schema[c])).fill_null(False))
        .n_unique()
        .alias(c)
        for c, v in keys.items()
    ]
    counts = frame.select(missing).collect().row(0, named=True)
    return {c: int(n) for c, n in counts.items() if n}


def _check_coverage(missing: Mapping[str, int], request: IngestRequest) -> None:
    if missing and len(request.public_keys_confirm_reason.strip()) < MIN_REASON_LENGTH:
        columns = "; ".join(f"'{c}' misses {n}" for c, n in missing.items())
        raise InvalidRequest(
            f"declared public keys miss distinct values of the data ({columns}; empty cells "
            "count as one): rows holding them would drop out of every result grouped by the "
            "column. Declare the complete domain, or accept the loss with "
            "public_keys_confirm_reason (audited)"
        )


def _hierarchies(
    frame: pl.LazyFrame, request: IngestRequest, tags: Mapping[str, ColumnTag]
) -> dict[str, TableHierarchy]:
    """The declared hierarchies, parsed and checked against the data (every value a line)."""
    out: dict[str, TableHierarchy] = {}
    for column, text in request.hierarchies.items():
        steward.check_column(column, tags)
        steward.check_name_of(column)  # stored under the column's name
        out[column] = steward.parse(column, text)
        steward.check_covers(frame, column, out[column])
    return out


def _write_partitions(
    frame: pl.LazyFrame, unit: str | None, rows: int, folder: Path, rows_per_partition: int
) -> int:
    """Write ``frame`` as ``part-NNNNN.parquet`` files; return how many."""
    count = max(1, math.ceil(rows / rows_per_partition))
    staging = folder / "staging"
    in_turn = pl.int_range(pl.len(), dtype=pl.UInt64)  # no unit: rows dealt out in turn
    key = (in_turn if unit is None else pl.col(unit).hash(seed=0x5A4E)) % count
    frame.with_columns(key.alias(_PART)).sink_parquet(
        pl.PartitionBy(staging, key=_PART, include_key=False), mkdir=True, statistics=True
    )
    order = None if unit is None else person_order(unit, frame.collect_schema()[unit])
    for i in range(count):
        files = sorted((staging / f"{_PART}={i}").glob("*.parquet"))
        target = folder / f"part-{i:05d}.parquet"
        if not files:  # an empty partition still exists, so partition i is file i
            frame.head(0).sink_parquet(target)
        elif order is None and len(files) == 1:
            os.replace(files[0], target)
        else:  # by person: their rows lie together (runs, jobs.kinds.aggregate.exact)
            scan = pl.scan_parquet(files)
            (scan if order is None else scan.sort(order, maintain_order=True)).sink_parquet(target)
    shutil.rmtree(staging)
    return count


def ingest(
    db: Database, settings: Settings, actor: str, user_id: int, upload: Path, request: IngestRequest
) -> Dataset:
    """Store ``upload`` as a catalogued dataset.

    Raises:
        InvalidRequest: Bad name, unreadable or malformed file (the line is
            named, never a value), too many columns, empty table, unknown
            columns in tags or keys, a less protective tag without override,
            public keys that miss values of the data without a confirmation,
            a privacy unit missing (null, NaN or blank) in most rows.
        Conflict: The name is taken.
    """
    name = check_name(request.name, "dataset name")
    if not _NAME.fullmatch(name):
        raise InvalidRequest(
            "a dataset name is 2-64 characters of a-z, 0-9 and '_', starting with a letter"
        )
    if not request.source.strip():
        raise InvalidRequest("record the dataset's source (provenance, art. 63)")
    workdir = settings.data_dir / "uploads"
    workdir.mkdir(parents=True, exist_ok=True)
    with open_upload(upload, max_columns=settings.max_columns, workdir=workdir) as frame:
        try:
            return _store(
                db, settings, actor, user_id, frame, dataclasses.replace(request, name=name)
            )
        except pl.exceptions.PolarsError:
            # Its message may quote a cell: neither it nor its traceback goes anywhere.
            raise InvalidRequest(
                "the file could not be read; save it again (CSV UTF-8 or Parquet) and retry"
            ) from None


def _store(
    db: Database,
    settings: Settings,
    actor: str,
    user_id: int,
    frame: pl.LazyFrame,
    request: IngestRequest,
) -> Dataset:
    schema = frame.collect_schema()
    if _PART in schema:
        raise InvalidRequest(f"the column name '{_PART}' is reserved")
    with db.session() as session:
        if session.scalar(select(Dataset).where(Dataset.name == request.name)) is not None:
            raise Conflict(f"a dataset named '{request.name}' exists already")
    # one pass: the row count and each column's nulls (schema facts, not values)
    counts = frame.select(pl.all().null_count(), pl.len().alias(_PART)).collect().row(0, named=True)
    rows = int(counts.pop(_PART))
    if rows == 0:
        raise InvalidRequest("the table has no rows")
    proposals = propose_tags(frame)
    tags = _resolve_tags(list(schema), proposals, request)
    keys = _check_keys(request, schema, tags)
    bands = check_group_size_bands(
        request.group_size_bands, {c: tag for c, (tag, _) in tags.items()}
    )
    null_units = _null_units(frame, schema, request.privacy_unit, counts)
    if request.privacy_unit is not None:
        check_privacy_unit_coverage(request.privacy_unit, rows, null_units)
    missing_keys = _missing_keys(frame, schema, keys)
    _check_coverage(missing_keys, request)
    hierarchies = _hierarchies(frame, request, {c: tag for c, (tag, _) in tags.items()})

    # A unique folder per ingest: a concurrent ingest of the same name that
    # loses the race removes its own files, never the winner's.
    stored = storage.join(settings.datasets_location, f"{request.name}-{uuid.uuid4().hex}")
    # In object storage the partitions are written locally first, then each is put whole.
    remote = storage.is_remote(stored)
    folder = settings.data_dir / "uploads" / storage.name(stored) if remote else Path(stored)
    folder.mkdir(parents=True)
    try:
        partitions = _write_partitions(
            frame, request.privacy_unit, rows, folder, settings.rows_per_partition
        )
        digest = content_sha256(folder)
        for file in dataset_files(folder):
            os.chmod(file, 0o440)
            if remote:
                storage.put_file(Path(file), storage.join(stored, storage.name(file)))
        with db.session() as session:
            owner = session.get(User, user_id)
            if owner is None:
                raise NotFound("no such user: the ingest needs the steward who records it")
            dataset = Dataset(
                name=request.name,
                description=request.description,
                source=request.source,
                open_attribute=request.open_attribute.value,
                grade=request.grade.value,
                path=stored,
                sha256=digest,
                row_count=rows,
                public_row_count=public_row_count(rows),
                org_id=owner.org_id,
                partitions=partitions,
                privacy_unit=request.privacy_unit,
                null_unit_rows=null_units,
                public_keys=keys,
                group_size_bands={key: band.as_dict() for key, band in bands.items()},
                created_by=user_id,
                columns=[
                    DatasetColumn(
                        nullable=counts[c] > 0,
                        position=i,
                        name=c,
                        dtype=str(schema[c]),
                        tag=tags[c][0].value,
                        tag_source=tags[c][1],
                        proposed_tag=proposals[c].tag.value,
                        evidence={"rule": proposals[c].rule, **proposals[c].evidence},
                    )
                    for i, c in enumerate(schema)
                ],
            )
            session.add(dataset)
            session.flush()
            for column, hierarchy in hierarchies.items():
                steward.record(
                    session, dataset, column, steward.check_name_of(column), hierarchy, user_id
                )  # the name was checked before anything was written
            overridden = {
                c: request.overrides[c] for c, (_, src) in tags.items() if src == "override"
            }
            audit.append(
                db,
                session,
                actor,
                "dataset.ingest",
                f"dataset:{dataset.id}",
                name=request.name,
                # the keyed digest, never the plain SHA-256 (a guessed table is tested against
                # it); the exact rows are for auditors and the bureau (sandbox.web.audit_view)
                digest=input_digest(settings.secret(), digest),
                rows=rows,
                partitions=partitions,
                grade=request.grade.value,
                open_attribute=request.open_attribute.value,
                privacy_unit=request.privacy_unit,
                tag_overrides=overridden,
                # counts of distinct values the declared domains miss, never the values
                public_keys_missing=missing_keys,
                # the steward's planning figures, not facts of the data
                group_size_bands={key: band.as_dict() for key, band in bands.items()},
                # the steward's hierarchies: column -> height (their lines are not audited)
                hierarchies={c: h.height for c, h in hierarchies.items()},
                public_keys_confirm_reason=request.public_keys_confirm_reason
                if missing_keys
                else "",
            )
            return dataset
    except BaseException:
        storage.delete_tree(stored)  # what was stored before the failure
        raise
    finally:
        if remote:  # the local copy of what is now stored (or was refused)
            shutil.rmtree(folder, ignore_errors=True)


def propose(upload: Path, settings: Settings) -> dict[str, Proposal]:
    """Proposed tags for a file, without storing anything.

    Raises:
        InvalidRequest: Unreadable or malformed file, or too many columns.
    """
    workdir = settings.data_dir / "uploads"
    workdir.mkdir(parents=True, exist_ok=True)
    # The whole CSV is checked and copied, and types come from all of it, as at
    # ingest: a proposal typed from the head alone could disagree with the ingest.
    with open_upload(upload, max_columns=settings.max_columns, workdir=workdir) as frame:
        try:
            return propose_tags(frame)  # as at ingest
        except pl.exceptions.PolarsError:
            raise InvalidRequest(
                "the file could not be read; save it again (CSV UTF-8 or Parquet) and retry"
            ) from None


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


def copy_upload(stream: Any, dest: Path, limit: int) -> int:
    """Copy a file-like upload to ``dest`` with a size limit; return bytes written.

    Raises:
        InvalidRequest: The upload is larger than ``limit``.
    """
    written = 0
    with dest.open("wb") as out:
        while chunk := stream.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise InvalidRequest(f"the upload is larger than {limit} bytes")
            out.write(chunk)
    return written
