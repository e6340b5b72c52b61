"""Append-only, hash-chained, MACed audit log (art. 39: traceable records; art. 63).

Each entry's hash is SHA-256 over the canonical JSON (sorted keys, no
spaces, UTF-8) of its fields and the previous entry's hash, so editing or
deleting any entry breaks every link after it. A hash chain alone does not
hold against someone who can write the table: they may edit an entry and
recompute every hash after it, or append an entry of their own. So each
entry also carries an HMAC-SHA256 (RFC 2104) of its sequence number and hash
under a key derived from the deployment secret (HKDF, label
``data-sandbox audit mac v1``), which never enters the database; the MAC of
one entry covers, through its hash, every entry before it. What a MAC cannot
show (entries cut off the end, a chain rewritten by someone holding the key)
is caught by heads published outside the host and named in each signed
manifest (:mod:`sandbox.audit.anchors`). :func:`sandbox.audit.verify.verify` walks the chain and
names the first problem.

Appends are serialized (SQLite: the database write lock; PostgreSQL: an
advisory lock) and happen in the same transaction as the action they record:
no action without its entry, no entry without its action.

Details never hold data values: names, ids, counts, hashes and ε only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from policies.errors import InternalError
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, utcnow

GENESIS = "0" * 64
_MAC_KEY_INFO = b"data-sandbox audit mac v1"


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
    mac_key_id: str | None = None,
) -> str:
    """The hash an entry with these fields must carry.

    ``mac_key_id`` (the fingerprint of the key that MACs the entry; None for
    entries written before MACs, whose hashes never covered it) is hashed too,
    so relabelling an entry's key breaks the chain like any other edit.
    """
    body: dict[str, Any] = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    if mac_key_id is not None:
        body["mac_key"] = mac_key_id
    return hashlib.sha256(canonical_json(body)).hexdigest()


def mac_key(secret: bytes) -> bytes:
    """The key that MACs audit entries: HKDF-SHA256 (RFC 5869) of the deployment secret.

    A label of its own keeps it apart from the manifest signing key and the
    pseudonym keys derived from the same secret.
    """
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_MAC_KEY_INFO).derive(secret)


def key_id(key: bytes) -> str:
    """A fingerprint of a MAC key, stored with each entry (it reveals nothing of the key)."""
    return hmac.new(key, b"data-sandbox audit key id", hashlib.sha256).hexdigest()[:16]


def entry_mac(key: bytes, seq: int, entry_hash_: str) -> str:
    """The MAC an entry with this sequence number and hash must carry."""
    message = canonical_json({"seq": seq, "hash": entry_hash_})
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def append(
    db: Database, session: Session, actor: str, action: str, subject: str, **details: Any
) -> AuditEntry:
    """Append an entry inside the caller's transaction.

    Args:
        db: The database (for its lock and the audit MAC key).
        session: The caller's session; the entry commits with the action.
        actor: Who acted (``user:<name>``, ``system``, or ``anonymous``).
        action: What happened, e.g. ``job.submit``.
        subject: What it happened to, e.g. ``job:12``.
        **details: JSON-able facts; never data values.

    Raises:
        InternalError: The database was opened without the audit MAC key.
    """
    key = db.audit_key()
    if key is None:
        raise InternalError(
            "the audit log cannot be written without its MAC key: open the database with "
            "Database(url, audit_key=audit.mac_key(settings.secret()))"
        )
    db.lock_audit(session)
    seq, prev = head(session)
    seq += 1
    at = utcnow().isoformat(timespec="microseconds")
    details = json.loads(canonical_json(details))  # the stored form is the hashed form
    fingerprint = key_id(key)
    digest = entry_hash(seq, at, actor, action, subject, details, prev, fingerprint)
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=details,
        prev_hash=prev,
        hash=digest,
        mac=entry_mac(key, seq, digest),
        mac_key=fingerprint,
    )
    session.add(entry)
    session.flush()
    return entry


def head(session: Session) -> tuple[int, str]:
    """The newest entry's sequence number and hash (``0`` and :data:`GENESIS` if none)."""
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS)


def head_record(session: Session, secret: bytes) -> dict[str, Any]:
    """The head as manifests and checkpoints name it: ``seq``, ``hash`` and ``mac_key``.

    ``mac_key`` is the fingerprint of the MAC key in force, so that a verifier
    knows every later entry must carry a MAC under it (while it is current).
    """
    seq, digest = head(session)
    return {"seq": seq, "hash": digest, "mac_key": key_id(mac_key(secret))}
