"""Audit entries as their reader may see them: exact facts redacted (art. 63).

Entries are hash-chained, so what they store never changes; some hold exact
facts of stored data or of a run (a dataset's row count and the plain SHA-256
of its files, the rows a job produced). Those fields are shown to auditors and
to the stewards of the bureau owning the data only
(:func:`policies.access.can_read_exact_facts_of`); other readers (admins, a
steward of another bureau) get the entry with those fields left out and named
in ``redacted``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from policies.access import can_read_exact_facts, can_read_exact_facts_of
from policies.errors import NotFound
from policies.roles import Role
from sandbox.access.auth import Principal
from sandbox.airlock.review import input_owners
from sandbox.store.models import AuditEntry, Dataset, Job

#: Detail fields holding exact facts of stored data or of a run (``lines``: of a steward's
#: hierarchy, at least the column's distinct values).
EXACT_FIELDS = frozenset(
    {"sha256", "rows", "row_counts", "output_sha256", "records_suppressed", "row_count", "lines"}
)


@dataclass(frozen=True)
class EntryView:
    """An audit entry as shown to one reader."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str
    #: Detail fields left out for this reader (exact facts).
    redacted: list[str]


def _owners(session: Session, subject: str) -> list[int | None] | None:
    """The bureaus owning the data an entry's subject is about (``None``: unknown)."""
    kind, _, ident = subject.partition(":")
    if not ident.isdigit():
        return None
    try:
        if kind == "dataset":
            dataset = session.get(Dataset, int(ident))
            return None if dataset is None else [dataset.org_id]
        if kind == "job":
            job = session.get(Job, int(ident))
            return None if job is None else list(input_owners(session, job))
    except NotFound:  # an input no longer in the catalog
        return None
    return None


def entry_views(session: Session, who: Principal, rows: Iterable[AuditEntry]) -> list[EntryView]:
    """The entries with exact facts left out where ``who`` may not read them."""
    views = []
    for row in rows:
        details = dict(row.details)
        hidden = sorted(EXACT_FIELDS & details.keys())
        if hidden and can_read_exact_facts(who.role):
            if who.role is not Role.STEWARD:
                hidden = []
            else:
                owners = _owners(session, row.subject)
                if owners is not None and can_read_exact_facts_of(who.role, who.org_id, owners):
                    hidden = []
        for field in hidden:
            del details[field]
        views.append(
            EntryView(
                seq=row.seq,
                at=row.at,
                actor=row.actor,
                action=row.action,
                subject=row.subject,
                details=details,
                prev_hash=row.prev_hash,
                hash=row.hash,
                redacted=hidden,
            )
        )
    return views
