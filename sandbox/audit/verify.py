"""Verifying the audit chain: every link, then the releases and published heads.

:func:`verify` walks the chain (:mod:`sandbox.audit.chain`) and then checks the
anchors outside it (:mod:`sandbox.audit.anchors`: manifests, published heads):
it sits above both, so neither imports the other's verifier.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox.audit import anchors as audit_anchors
from sandbox.audit.anchors import PublishedHead, RetiredKey
from sandbox.audit.chain import GENESIS, entry_hash, entry_mac, key_id, mac_key
from sandbox.store.models import AuditEntry


@dataclass(frozen=True, slots=True)
class Verification:
    """Result of walking the chain and comparing it with its anchors."""

    ok: bool
    entries: int
    #: Sequence number of the first entry that does not hold, if any.
    broken_at: int | None = None
    reason: str = ""
    head: str = GENESIS
    head_seq: int = 0
    #: Entries 1..unmaced carry no MAC checkable with the current key (written
    #: before MACs, or under a key since retired); the MAC of the entry after
    #: them covers them through the hash chain.
    unmaced: int = 0
    #: Of those, entries written before MACs (revision 0007).
    legacy: int = 0
    #: Releases whose manifest, signature and chain head were checked.
    releases: int = 0
    #: Published heads checked (``--against``).
    published_heads: int = 0

    @property
    def note(self) -> str:
        """What the verification could not check, in one sentence ("" if nothing)."""
        if not self.unmaced:
            return ""
        retired = self.unmaced - self.legacy
        parts = [f"entries 1..{self.unmaced} carry no MAC under the current key"]
        if self.legacy:
            parts.append(f"{self.legacy} predate MACs")
        if retired:
            parts.append(f"{retired} were MACed under a retired key")
        return (
            "; ".join(parts) + ": they hold only through the hash chain, the first MACed entry "
            "after them and published heads"
        )


@dataclass(slots=True)
class _Walk:
    count: int = 0
    head: str = GENESIS
    unmaced: int = 0
    legacy: int = 0
    seen_mac: bool = False
    seen_current: bool = False
    #: Releasing ``review.approve`` entries the walk checked: job id -> (seq, details).
    approvals: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)


def verify(
    session: Session,
    secret: bytes,
    heads: Sequence[PublishedHead] = (),
    retired: Sequence[RetiredKey] = (),
    batch: int = 5000,
) -> Verification:
    """Walk the chain from the first entry and report the first problem.

    Checks, in order: every link (sequence, ``prev_hash``, hash, MAC); the
    jobs and releases tables against the chain's release entries, each
    manifest's signature and the chain head it names; then each published head.

    Args:
        session: A session on the store.
        secret: The deployment secret (the MAC key and the signing key derive from it).
        heads: Heads published earlier by ``sandbox audit checkpoint``.
        retired: Keys of secrets this deployment used before (``sandbox audit key``
            printed them); entries, manifests and heads under any other key fail.
        batch: Entries read per query.
    """
    key = mac_key(secret)
    walk = _Walk()
    broken = _walk(session, key, {r.mac_key for r in retired}, walk, batch)
    if broken is not None:
        return broken
    head_seq = walk.count

    def result(
        problem: tuple[int | None, str] | None, releases: int, published: int
    ) -> Verification:
        return Verification(
            problem is None,
            walk.count,
            problem[0] if problem else None,
            problem[1] if problem else "",
            walk.head,
            head_seq,
            walk.unmaced,
            walk.legacy,
            releases,
            published,
        )

    keys = audit_anchors.known_keys(secret, retired)
    macs = audit_anchors.Macs(walk.unmaced, walk.legacy, key_id(key))
    problem, releases = audit_anchors.check_releases(session, keys, walk.approvals, macs, head_seq)
    if problem is not None:
        return result(problem, releases, 0)
    problem = audit_anchors.check_heads(session, keys, heads, head_seq, macs)
    return result(problem, releases, len(heads) if problem is None else 0)


def _walk(
    session: Session, key: bytes, retired: set[str], walk: _Walk, batch: int
) -> Verification | None:
    """Check every link; a :class:`Verification` naming the first bad one, or None."""
    current = key_id(key)
    last_seq = 0

    def broken(seq: int, reason: str) -> Verification:
        return Verification(
            False, walk.count, seq, reason, walk.head, walk.count, walk.unmaced, walk.legacy
        )

    below = session.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.seq < 1))
    if below is not None:
        return broken(
            int(below),
            f"an entry carries sequence number {below}, but the chain starts at 1: it was "
            "written outside the service",
        )
    while True:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return None
        for e in rows:
            expected = walk.count + 1
            if e.seq != expected:
                return broken(expected, f"entry {expected} is missing")
            if e.prev_hash != walk.head:
                return broken(e.seq, "prev_hash does not match the previous entry")
            recomputed = entry_hash(
                e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prev_hash, e.mac_key
            )
            if recomputed != e.hash:
                return broken(e.seq, "the entry's content does not match its hash")
            reason = _check_mac(e, key, current, retired, walk)
            if reason:
                return broken(e.seq, reason)
            if e.action == "review.approve" and e.subject.startswith("job:"):
                # Entries written before approvals said whether they released count as releasing.
                if e.details.get("released", True):
                    walk.approvals[int(e.subject.removeprefix("job:"))] = (e.seq, e.details)
            walk.head, walk.count = e.hash, walk.count + 1
        last_seq = rows[-1].seq


def _check_mac(e: AuditEntry, key: bytes, current: str, retired: set[str], walk: _Walk) -> str:
    """What is wrong with the entry's MAC ("" if nothing); counts entries without a current one."""
    if e.mac is None and e.mac_key is None:  # written before revision 0007
        if walk.seen_mac:
            return (
                "the entry carries no MAC although earlier entries do: its MAC was removed, or "
                "it was written outside the service"
            )
        walk.legacy += 1
        walk.unmaced += 1
        return ""
    walk.seen_mac = True
    if e.mac is None or e.mac_key is None:
        return "the entry carries a MAC key without a MAC, or a MAC without its key: one was cut"
    if e.mac_key == current:
        walk.seen_current = True
        if not hmac.compare_digest(e.mac, entry_mac(key, e.seq, e.hash)):
            return (
                "the entry's MAC does not match: it was rewritten (hashes recomputed) or forged "
                "by someone without the key"
            )
        return ""
    if e.mac_key not in retired:
        return (
            f"the entry is MACed under key {e.mac_key}, which is neither the current key nor "
            "a retired one declared to verify: it was written outside the service (after a "
            "rotation of the secret, declare the old key with --retired-keys)"
        )
    if walk.seen_current:
        return (
            "the entry is MACed under a retired key after entries under the current key: it "
            "was written outside the service"
        )
    walk.unmaced += 1
    return ""
