"""Append-only, hash-chained audit log (art. 39: traceable records; art. 63).

Each entry's hash is SHA-256 over the canonical JSON (sorted keys, no
spaces, UTF-8) of its fields and the previous entry's hash, so editing or
deleting any entry breaks every link after it. :func:`verify` walks the chain
and names the first entry that does not hold.

Appends are serialized (SQLite: the database write lock; PostgreSQL: an
advisory lock) and happen in the same transaction as the action they record:
no action without its entry, no entry without its action.

Details never hold data values: names, ids, counts, hashes and ε only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Release, utcnow

GENESIS = "0" * 64


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact separators, UTF-8, no NaN.

    >>> canonical_json({"b": 1, "a": "城"})
    b'{"a":"\\xe5\\x9f\\x8e","b":1}'
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def entry_hash(
    seq: int,
    at: str,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """The hash an entry with these fields must carry."""
    body = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def append(
    db: Database, session: Session, actor: str, action: str, subject: str, **details: Any
) -> AuditEntry:
    """Append an entry inside the caller's transaction.

    Args:
        db: The database (for its lock).
        session: The caller's session; the entry commits with the action.
        actor: Who acted (``user:<name>``, ``system``, or ``anonymous``).
        action: What happened, e.g. ``job.submit``.
        subject: What it happened to, e.g. ``job:12``.
        **details: JSON-able facts; never data values.
    """
    db.lock_audit(session)
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = utcnow().isoformat(timespec="microseconds")
    details = json.loads(canonical_json(details))  # the stored form is the hashed form
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=details,
        prev_hash=prev,
        hash=entry_hash(seq, at, actor, action, subject, details, prev),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class Verification:
    """Result of walking the chain."""

    ok: bool
    entries: int
    #: Sequence number of the first entry that does not hold, if any.
    broken_at: int | None = None
    reason: str = ""
    head: str = GENESIS


def verify(session: Session, batch: int = 5000) -> Verification:
    """Walk the chain from the first entry and report the first broken link."""
    prev, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            unrecorded = _unrecorded_release(session)
            if unrecorded is not None:
                reason = (
                    f"job {unrecorded} was released but no entry records its release: "
                    "entries were cut off the end of the chain, or a release was written "
                    "without one"
                )
                return Verification(False, count, count + 1, reason, prev)
            return Verification(True, count, head=prev)
        for e in rows:
            if e.seq != expected_seq:
                return Verification(
                    False, count, expected_seq, f"entry {expected_seq} is missing", prev
                )
            if e.prev_hash != prev:
                return Verification(
                    False, count, e.seq, "prev_hash does not match the previous entry", prev
                )
            recomputed = entry_hash(
                e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prev_hash
            )
            if recomputed != e.hash:
                return Verification(
                    False, count, e.seq, "the entry's content does not match its hash", prev
                )
            prev, expected_seq, count = e.hash, expected_seq + 1, count + 1
        last_seq = rows[-1].seq


def _unrecorded_release(session: Session) -> int | None:
    """A released job whose release no entry records, if any.

    A hash chain proves that no entry was changed, inserted or removed in its
    middle, not that none was cut off its end: the releases table, written in
    the same transaction as each release's ``review.approve`` entry, is a
    second record to compare with.
    """
    # Entries written before approvals said whether they released count as releasing.
    approvals = session.execute(
        select(AuditEntry.subject, AuditEntry.details).where(AuditEntry.action == "review.approve")
    )
    recorded = {subject for subject, details in approvals if details.get("released", True)}
    for job_id in session.scalars(select(Release.job_id).order_by(Release.job_id)):
        if f"job:{job_id}" not in recorded:
            return int(job_id)
    return None
