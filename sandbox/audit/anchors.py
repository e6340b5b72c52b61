"""Anchors of the audit chain outside its own rows: releases, manifests, published heads.

MACs (:mod:`sandbox.audit.chain`) show that no entry was written or rewritten
without the key; they cannot show that entries were cut off the end of the
chain, nor stop someone who holds the key. Three records outside the chain's
rows can:

- the releases table, written in the same transaction as each release's
  ``review.approve`` entry, which records the manifest's SHA-256 and
  signature;
- each signed manifest, which names the chain head (sequence, hash) at its
  release;
- heads printed by ``sandbox audit checkpoint``, signed with the manifest key
  (Ed25519) and published outside the host; ``sandbox audit verify --against
  FILE`` checks the chain against them.

A head names the entry it saw; if the chain no longer holds that entry with
that hash, or ends before it, or carries entries without a MAC after it, the
chain was tampered with. Everything after the newest head can still be cut
off unnoticed: publish heads often.

Every manifest's and head's signature is checked, under the current key or a
retired one the operator declares (``sandbox audit key`` printed it before a
rotation of the secret); verify never takes a key as retired from the data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from policies.airlock import JobStatus
from policies.errors import InvalidRequest
from sandbox.audit import signing
from sandbox.audit.chain import GENESIS, canonical_json, head_record, key_id, mac_key
from sandbox.store.models import AuditEntry, Job, Release, utcnow

#: (sequence number of the entry at fault, what is wrong), or None.
Problem = tuple[int | None, str] | None


class _HeadFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=0)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    time: str = Field(max_length=40)
    mac_key: str = Field(max_length=16)
    signature: str = Field(max_length=200)


@dataclass(frozen=True, slots=True)
class PublishedHead:
    """A chain head as ``sandbox audit checkpoint`` printed it."""

    seq: int
    hash: str
    time: str
    mac_key: str
    signature: str

    def body(self) -> dict[str, Any]:
        """The signed fields."""
        return {"seq": self.seq, "hash": self.hash, "time": self.time, "mac_key": self.mac_key}


def checkpoint(session: Session, secret: bytes) -> dict[str, Any]:
    """The newest entry's sequence number and hash, signed for publication.

    Args:
        session: A session on the store.
        secret: The deployment secret (signing key and MAC key id).

    Returns:
        ``seq``, ``hash``, ``time`` (UTC), ``mac_key`` (the fingerprint of the MAC
        key in force) and ``signature`` (Ed25519 over the canonical JSON of the
        other four, base64; verify with ``GET /v1/manifests/public-key``).
    """
    body = head_record(session, secret) | {"time": utcnow().isoformat(timespec="seconds")}
    return body | {"signature": signing.sign(secret, body)}


def load_heads(text: str) -> list[PublishedHead]:
    """Heads from a file: one JSON object, a JSON list of them, or one object a line.

    Raises:
        InvalidRequest: The text holds no head, or one that is not as checkpoint printed it.
    """
    stripped = text.strip()
    try:
        if stripped.startswith("["):
            raw: list[Any] = json.loads(stripped)
        else:
            raw = [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        raise InvalidRequest(
            "the heads file is not JSON: give the output of `sandbox audit checkpoint`, one "
            "head a line or a JSON list of heads"
        ) from err
    if not raw:
        raise InvalidRequest("the heads file holds no head: add `sandbox audit checkpoint` output")
    heads = []
    for number, item in enumerate(raw, 1):
        try:
            parsed = _HeadFile.model_validate(item)
        except ValidationError as err:
            fields = sorted({str(e["loc"][0]) for e in err.errors() if e["loc"]})
            raise InvalidRequest(
                f"head {number} of the file is not a checkpoint (fields at fault: "
                f"{', '.join(fields) or 'the whole entry'}); copy it unchanged from "
                "`sandbox audit checkpoint`"
            ) from err
        heads.append(PublishedHead(**parsed.model_dump()))
    return heads


@dataclass(frozen=True, slots=True)
class RetiredKey:
    """The keys of a secret the deployment used before, as ``sandbox audit key`` printed them."""

    mac_key: str
    public_key: str


class _RetiredFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mac_key: str = Field(pattern=r"^[0-9a-f]{16}$")
    public_key: str = Field(max_length=1000, pattern=r"^-----BEGIN PUBLIC KEY-----")


def key_record(secret: bytes) -> dict[str, str]:
    """The current key pair's public half: the MAC key's fingerprint and the signing key.

    Print it before rotating the secret and keep it: after the rotation, entries,
    manifests and heads under it verify only when it is declared retired.
    """
    return {"mac_key": key_id(mac_key(secret)), "public_key": signing.public_key_pem(secret)}


def load_retired_keys(text: str) -> list[RetiredKey]:
    """Retired keys from a file: ``sandbox audit key`` outputs, one a line or a JSON list.

    Raises:
        InvalidRequest: The text holds something else.
    """
    stripped = text.strip()
    try:
        if stripped.startswith("["):
            raw: list[Any] = json.loads(stripped)
        else:
            raw = [json.loads(line) for line in stripped.splitlines() if line.strip()]
        keys = [RetiredKey(**_RetiredFile.model_validate(item).model_dump()) for item in raw]
    except (json.JSONDecodeError, ValidationError, TypeError) as err:
        raise InvalidRequest(
            "the retired keys file is not a list of `sandbox audit key` outputs: copy each "
            "unchanged, one a line"
        ) from err
    return keys


def retired_keys(path: Path | None) -> list[RetiredKey]:
    """The retired keys declared in ``path`` (``SANDBOX_AUDIT_RETIRED_KEYS``); none if unset.

    Raises:
        InvalidRequest: The file cannot be read or holds something else.
    """
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidRequest(
            "the retired keys file (SANDBOX_AUDIT_RETIRED_KEYS) cannot be read: check its path"
        ) from err
    return load_retired_keys(text)


def known_keys(secret: bytes, retired: Sequence[RetiredKey]) -> dict[str, str]:
    """MAC key fingerprint -> public signing key (PEM): the current pair and the declared ones."""
    current = key_record(secret)
    return {r.mac_key: r.public_key for r in retired} | {current["mac_key"]: current["public_key"]}


@dataclass(frozen=True, slots=True)
class Macs:
    """What the walk found: entries 1..unmaced lack a current MAC, 1..legacy predate MACs."""

    unmaced: int
    legacy: int
    current: str

    def limit(self, key: str) -> int:
        """The last entry allowed without a MAC under ``key`` (named by an anchor)."""
        return self.unmaced if key == self.current else self.legacy


def check_releases(
    session: Session,
    keys: dict[str, str],
    recorded: dict[int, tuple[int, dict[str, Any]]],
    macs: Macs,
    head_seq: int,
) -> tuple[Problem, int]:
    """Compare the jobs and releases tables, each manifest and its head with the chain.

    Args:
        session: A session on the store.
        keys: MAC key fingerprint -> public signing key, from :func:`known_keys`.
        recorded: Releasing approvals the walk checked: job id -> (seq, details).
        macs: What the walk found about MACs.
        head_seq: The chain's last sequence number.

    Returns:
        The first problem (or None) and the number of releases checked.
    """
    releases = list(session.scalars(select(Release).order_by(Release.job_id)))
    stored = {r.job_id for r in releases}
    cut = "entries were cut off the end of the chain, or a release was written without one"
    for r in releases:
        if r.job_id not in recorded:
            reason = f"job {r.job_id} was released but no entry records its release: {cut}"
            return (head_seq + 1, reason), 0
    for job_id, (seq, details) in recorded.items():
        if details.get("released") is True and job_id not in stored:
            reason = (
                f"entry {seq} records the release of job {job_id}, but the releases table has "
                "no row for it: the release (its manifest and signature) was deleted"
            )
            return (seq, reason), 0
    released = session.scalars(
        select(Job.id).where(Job.status == JobStatus.RELEASED.value).order_by(Job.id)
    )
    for job_id in released:
        if job_id not in stored:
            reason = (
                f"job {job_id} has the status released, but neither a release row nor an entry "
                f"records its release: {cut}"
            )
            return (head_seq + 1, reason), 0
    for count, r in enumerate(releases):
        seq, details = recorded[r.job_id]
        problem = _check_manifest(session, keys, r, seq, details, macs)
        if problem is not None:
            return problem, count
    return None, len(releases)


def _check_manifest(
    session: Session,
    keys: dict[str, str],
    release: Release,
    seq: int,
    details: dict[str, Any],
    macs: Macs,
) -> Problem:
    job = release.job_id
    manifest = release.manifest
    if manifest.get("job_id") != job:
        return seq, f"the manifest stored with job {job}'s release is not that job's"
    digest = details.get("manifest_sha256")
    if digest is not None:  # releases since revision 0007: the MACed entry anchors both
        if hashlib.sha256(canonical_json(manifest)).hexdigest() != digest:
            return seq, (
                f"the manifest of job {job} does not match the SHA-256 its release entry "
                f"{seq} recorded: the manifest was edited"
            )
        if release.signature != details.get("manifest_signature"):
            return seq, (
                f"the signature stored with job {job}'s manifest is not the one its release "
                f"entry {seq} recorded: the signature was edited"
            )
    named = manifest.get("audit_head")
    # Manifests since revision 0007 name the key pair they were signed under.
    signers = [keys.get(str(named.get("mac_key")))] if isinstance(named, dict) else keys.values()
    if not any(pem and signing.verify(pem, manifest, release.signature) for pem in signers):
        return seq, (
            f"the manifest of job {job} does not verify under the current signing key nor a "
            "declared retired one: it or its signature was edited (if it was signed before the "
            "secret was rotated, declare the old key with --retired-keys)"
        )
    if named is None:  # manifests signed before revision 0007
        return None
    named_seq, named_hash = int(named["seq"]), str(named["hash"])
    if _hash_at(session, named_seq) != named_hash:
        return named_seq, (
            f"the manifest of job {job} names audit entry {named_seq} with a hash the chain "
            "does not hold there: the chain was rewritten before that release"
        )
    limit = macs.limit(str(named.get("mac_key")))
    if limit > named_seq:
        return named_seq + 1, (
            f"entries 1..{limit} carry no MAC under the key in force when job {job}'s manifest "
            f"was signed at entry {named_seq}, after which every entry carries one: MACs were "
            "removed or replaced"
        )
    return None


def check_heads(
    session: Session,
    keys: dict[str, str],
    heads: Sequence[PublishedHead],
    head_seq: int,
    macs: Macs,
) -> Problem:
    """Check the chain against heads published outside the host.

    Args:
        session: A session on the store.
        keys: MAC key fingerprint -> public signing key, from :func:`known_keys`.
        heads: The published heads.
        head_seq: The chain's last sequence number.
        macs: What the walk found about MACs.
    """
    for h in sorted(heads, key=lambda h: h.seq):
        # A head is signed with the key pair it names: the current one or a declared retired one.
        pem = keys.get(h.mac_key)
        if pem is None or not signing.verify(pem, h.body(), h.signature):
            return h.seq, (
                f"the head published at {h.time} for entry {h.seq} does not verify under the "
                "current signing key nor a declared retired one: this deployment did not sign it"
            )
        if h.seq > head_seq:
            return head_seq + 1, (
                f"the head published at {h.time} names entry {h.seq}, but the chain ends at "
                f"entry {head_seq}: entries were cut off its end"
            )
        if _hash_at(session, h.seq) != h.hash:
            return h.seq, (
                f"entry {h.seq} does not match the head published at {h.time}: the chain was "
                "rewritten up to it"
            )
        # Entries written after a checkpoint carry a MAC (under its key, if still current).
        limit = macs.limit(h.mac_key)
        if limit > h.seq:
            return h.seq + 1, (
                f"entries 1..{limit} carry no MAC under the key in force when the head of entry "
                f"{h.seq} was published at {h.time}: MACs were removed or replaced after it"
            )
    return None


def _hash_at(session: Session, seq: int) -> str | None:
    if seq == 0:
        return GENESIS
    return session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))
