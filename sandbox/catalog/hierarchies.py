"""The steward's generalization hierarchies, stored with a dataset for its extracts.

ARX (Prasser et al.) and the bureau's own tools describe a hierarchy as a table in
CSV, one line per value: ``value;level1;level2;…;*``. A steward uploads one per
quasi-identifier, with the dataset at ingest or later; an extract uses it where
the operator's spec names it or gives none for the column
(:mod:`jobs.kinds.extract.stewarded`). The steward knows the domain (which
districts form which city) where the automatic choice only guesses.

Every value of the column in the stored data must have a line, checked when the
hierarchy is stored, so an extract never fails on it later. Refusals name the
column and the line, never a value of the data or how many values were missing.

Who sees what: the owning bureau's stewards store, replace, delete and download
hierarchies (art. 63: the bureau controls access to its data); everyone who may
read the dataset's metadata sees each hierarchy's column, name and height, and
the lines count only the bureau and auditors (a steward-written table, but its
lines are the column's domain).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from anonymize.errors import AnonymizationError
from anonymize.hierarchies import TableHierarchy
from jobs import storage
from policies.access import check_can_manage_datasets
from policies.catalog import ColumnTag
from policies.errors import Conflict, InvalidRequest, NotFound
from policies.names import check_name
from policies.roles import Role
from sandbox.audit import chain as audit
from sandbox.catalog.facts import dataset_files
from sandbox.catalog.withdraw import check_usable
from sandbox.store.db import Database
from sandbox.store.models import Dataset, DatasetHierarchy

__all__ = [
    "MAX_NAME",
    "Steward",
    "check_column",
    "check_covers",
    "delete",
    "get",
    "parse",
    "put",
    "record",
]

log = logging.getLogger(__name__)
#: Longest hierarchy name (an extract spec's identifiers are as long).
MAX_NAME = 64


class Steward(Protocol):
    """Who acts (a :class:`sandbox.access.auth.Principal`): the audit's actor, the role
    and bureau checked (art. 63), the user recorded."""

    @property
    def actor(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def org_id(self) -> int: ...
    @property
    def user_id(self) -> int: ...


def _dataset(session: Session, name: str) -> Dataset:
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        raise NotFound(f"no dataset named '{name}'")
    return dataset


def parse(column: str, text: str) -> TableHierarchy:
    """The hierarchy of ``column`` read from ARX's CSV format.

    Raises:
        InvalidRequest: Not in ARX's format; the message names the line, never a value.
    """
    try:
        return TableHierarchy.from_csv(text)
    except AnonymizationError as err:
        raise InvalidRequest(f"the hierarchy of column '{column}': {err}") from None


def check_name_of(name: str) -> str:
    """A hierarchy's name, NFKC-normalized (see :func:`policies.names.check_name`).

    Raises:
        InvalidRequest: Unreadable, or longer than :data:`MAX_NAME`.
    """
    name = check_name(name, "hierarchy name")
    if len(name) > MAX_NAME:
        raise InvalidRequest(f"a hierarchy name has at most {MAX_NAME} characters")
    return name


def check_column(column: str, tags: Mapping[str, ColumnTag]) -> None:
    """Raise unless ``column`` is a quasi-identifier (only those are generalized).

    Raises:
        InvalidRequest: No such column, or not a quasi-identifier.
    """
    if column not in tags:
        raise InvalidRequest(f"the dataset has no column '{column}': check the column's name")
    if tags[column] is not ColumnTag.QUASI_IDENTIFIER:
        raise InvalidRequest(
            f"column '{column}' is tagged {tags[column].value}: extracts generalize "
            "quasi-identifiers only, so a hierarchy is stored for a quasi-identifier"
        )


def check_covers(frame: pl.LazyFrame, column: str, hierarchy: TableHierarchy) -> None:
    """Raise unless every value of ``column`` in ``frame`` has a line of the hierarchy.

    Raises:
        InvalidRequest: Some value has no line (neither the values nor their count are
            named: the count goes to the server log only).
    """
    # the cells as the extract reads them (TableHierarchy maps their text form)
    cells = pl.col(column).drop_nulls().cast(pl.String).unique()
    try:
        values = frame.select(cells).collect().to_series()
    except pl.exceptions.PolarsError:
        raise InvalidRequest(
            f"column '{column}' could not be read to check the hierarchy against it"
        ) from None
    known = {row[0] for row in hierarchy.rows}
    missing = sum(1 for value in values if value not in known)
    if missing:
        log.warning("hierarchy of column %r: %d value(s) have no line", column, missing)
        raise InvalidRequest(
            f"column '{column}' holds values that have no line in the hierarchy: add a line "
            "for every value of the column (ARX: value;level1;…;*)"
        )


def _scan(dataset: Dataset) -> pl.LazyFrame:
    return storage.scan_parquet(dataset_files(dataset.path), hive_partitioning=False)


def _check_name_free(session: Session, dataset: Dataset, column: str, name: str) -> None:
    """Raise if another column's hierarchy of the dataset has the name.

    Raises:
        Conflict: The name is taken.
    """
    taken = session.scalar(
        select(DatasetHierarchy).where(
            DatasetHierarchy.dataset_id == dataset.id,
            DatasetHierarchy.name == name,
            DatasetHierarchy.column != column,
        )
    )
    if taken is not None:
        raise Conflict(
            f"dataset '{dataset.name}' has a hierarchy named '{name}' for column "
            f"'{taken.column}' already: choose another name"
        )


def record(
    session: Session,
    dataset: Dataset,
    column: str,
    name: str,
    hierarchy: TableHierarchy,
    user_id: int,
) -> tuple[DatasetHierarchy, bool]:
    """Store (or replace) the hierarchy of ``column``; whether one was replaced.

    Raises:
        Conflict: Another column's hierarchy has the name.
    """
    _check_name_free(session, dataset, column, name)
    row = session.scalar(
        select(DatasetHierarchy).where(
            DatasetHierarchy.dataset_id == dataset.id, DatasetHierarchy.column == column
        )
    )
    replaced = row is not None
    if row is None:
        row = DatasetHierarchy(dataset_id=dataset.id, column=column)
        session.add(row)
    row.name = name
    row.csv = hierarchy.to_csv()
    row.levels = hierarchy.height
    row.lines = len(hierarchy.rows)
    row.created_by = user_id
    session.flush()
    return row, replaced


def put(
    db: Database, who: Steward, dataset_name: str, column: str, text: str, name: str | None
) -> DatasetHierarchy:
    """Store the hierarchy of a column of a dataset of the steward's bureau (audited).

    Args:
        db: The store.
        who: A steward of the bureau owning the dataset.
        dataset_name: The dataset.
        column: A quasi-identifier of it.
        text: The hierarchy in ARX's CSV format.
        name: Its name for extract specs; ``None``: the column's name (or the name
            of the hierarchy it replaces).

    Returns:
        The stored row.

    Raises:
        NotFound: No such dataset.
        PolicyViolation: Not a steward of the owning bureau (art. 63).
        Conflict: The dataset was withdrawn, or the name is taken by another column.
        InvalidRequest: Not a quasi-identifier, not in ARX's format, or a value of the
            column without a line.
    """
    with db.session() as session:
        dataset = _dataset(session, dataset_name)
        check_can_manage_datasets(who.role, who.org_id, [dataset.org_id])
        hierarchy = parse(column, text)
        check_usable(dataset)
        check_column(column, {c.name: ColumnTag(c.tag) for c in dataset.columns})
        previous = next((h for h in dataset.hierarchies if h.column == column), None)
        _check_name_free(
            session, dataset, column, check_name_of(name or (previous.name if previous else column))
        )
        # The data's files never change: read them before any lock is held (the checks
        # above are cheap and run again under the lock).
        check_covers(_scan(dataset), column, hierarchy)
        # One writer of a dataset's hierarchies at a time (a concurrent put of the same
        # column would otherwise meet the unique constraint). FOR NO KEY UPDATE on
        # PostgreSQL: rows that reference the dataset (ledger, grants) may still be written.
        session.execute(
            select(Dataset.id).where(Dataset.id == dataset.id).with_for_update(key_share=True)
        )
        session.refresh(dataset)
        check_usable(dataset)
        previous = next((h for h in dataset.hierarchies if h.column == column), None)
        chosen = check_name_of(name or (previous.name if previous else column))
        _check_name_free(session, dataset, column, chosen)
        row, replaced = record(session, dataset, column, chosen, hierarchy, who.user_id)
        audit.append(
            db,
            session,
            who.actor,
            "dataset.hierarchy.put",
            f"dataset:{dataset.id}",
            dataset=dataset.name,
            column=column,
            name=chosen,
            levels=row.levels,
            lines=row.lines,
            replaced=replaced,
        )
        session.expunge(row)
        return row


def get(session: Session, dataset: Dataset, column: str) -> DatasetHierarchy:
    """The hierarchy stored for ``column``.

    Raises:
        NotFound: None is stored for it.
    """
    row = session.scalar(
        select(DatasetHierarchy).where(
            DatasetHierarchy.dataset_id == dataset.id, DatasetHierarchy.column == column
        )
    )
    if row is None:
        raise NotFound(f"dataset '{dataset.name}' stores no hierarchy for column '{column}'")
    return row


def delete(db: Database, who: Steward, dataset_name: str, column: str) -> None:
    """Delete the hierarchy of a column (audited); extracts then choose one automatically.

    Raises:
        NotFound: No such dataset, or no hierarchy for the column.
        PolicyViolation: Not a steward of the owning bureau (art. 63).
    """
    with db.session() as session:
        dataset = _dataset(session, dataset_name)
        check_can_manage_datasets(who.role, who.org_id, [dataset.org_id])
        row = get(session, dataset, column)
        name = row.name
        session.delete(row)
        session.flush()
        audit.append(
            db,
            session,
            who.actor,
            "dataset.hierarchy.delete",
            f"dataset:{dataset.id}",
            dataset=dataset.name,
            column=column,
            name=name,
        )
