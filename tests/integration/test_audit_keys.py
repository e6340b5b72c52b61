"""The audit MAC key: entries written before MACs, key rotation, MACs stripped (issue 12)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text, update

from policies.errors import InternalError
from sandbox.audit import chain as audit
from sandbox.audit import signing
from sandbox.audit.anchors import RetiredKey, checkpoint, key_record, load_heads, load_retired_keys
from sandbox.audit.verify import verify as verify_chain
from sandbox.store.db import Database
from tests.integration.audit_chain import (
    LOG,
    RELEASES,
    Chain,
    build_chain,
    rechain,
    settings_for,
)


@pytest.fixture
def chain(db_url: str, tmp_path: Path) -> Iterator[Chain]:
    built = build_chain(db_url, tmp_path)
    yield built
    built.db.dispose()


def test_audit_verify_when_the_secret_is_rotated_then_old_entries_are_under_a_retired_key(
    chain: Chain,
):
    published = chain.head()  # before the rotation
    retired = load_retired_keys(json.dumps(key_record(chain.secret)))  # kept before it
    rotated = b"the deployment's next secret, 32+ characters"
    db = Database(chain.db.url, audit_key=audit.mac_key(rotated))
    with db.session() as s:
        audit.append(db, s, "user:admin", "test.after_rotation", "thing:1")
        undeclared = verify_chain(s, rotated, [published])
        result = verify_chain(s, rotated, [published], retired)
    # Only a retired key the operator declares is accepted, never one read from the data.
    assert not undeclared.ok and undeclared.broken_at == 1
    assert "neither the current key nor a retired one declared" in undeclared.reason
    assert result.ok, result.reason
    assert (result.unmaced, result.legacy, result.releases) == (chain.last, 0, 2)
    assert f"entries 1..{chain.last}" in result.note and "under a retired key" in result.note
    # The first entry under the new key vouches for the retired ones.
    with db.engine.begin() as conn:
        conn.execute(update(LOG).where(LOG.c.seq == 3).values(actor="user:mallory"))
        rechain(conn, 3)
    with db.session() as s:
        broken = verify_chain(s, rotated, retired=retired)
    assert not broken.ok and broken.broken_at == chain.last + 1
    db.dispose()


def _plain_chain(db_url: str, tmp_path: Path, n: int) -> tuple[Database, bytes]:
    settings = settings_for(tmp_path, db_url)
    db = Database(db_url, audit_key=lambda: audit.mac_key(settings.secret()))
    db.migrate()
    with db.session() as s:
        for i in range(n):
            audit.append(db, s, "user:a", "test.event", f"thing:{i}")
    return db, settings.secret()


def test_audit_verify_when_macs_are_stripped_after_a_published_head_then_it_tells(
    db_url: str, tmp_path: Path
):
    # No release names a head here: only the published one does.
    db, secret = _plain_chain(db_url, tmp_path, 8)
    with db.session() as s:
        published = load_heads(json.dumps(checkpoint(s, secret)))
        audit.append(db, s, "user:a", "test.event", "thing:later")
    with db.engine.begin() as conn:
        conn.execute(update(LOG).values(mac=None, mac_key=None))
        conn.execute(update(LOG).where(LOG.c.seq == 9).values(actor="user:mallory"))
        rechain(conn, 1)  # the key fingerprint is hashed: every hash changes
    with db.session() as s:
        stripped = verify_chain(s, secret)
        against = verify_chain(s, secret, published)
    assert stripped.ok and stripped.legacy == 9  # looks written before MACs: the note says so
    assert not against.ok and against.broken_at == 8
    assert "does not match the head published" in against.reason
    db.dispose()


def test_audit_verify_when_macs_are_stripped_after_a_head_of_an_empty_chain_then_it_tells(
    db_url: str, tmp_path: Path
):
    db, secret = _plain_chain(db_url, tmp_path, 0)
    with db.session() as s:
        published = load_heads(json.dumps(checkpoint(s, secret)))
        for i in range(3):
            audit.append(db, s, "user:a", "test.event", f"thing:{i}")
    with db.engine.begin() as conn:
        conn.execute(update(LOG).values(mac=None, mac_key=None))
        rechain(conn, 1)
    with db.session() as s:
        against = verify_chain(s, secret, published)
    assert not against.ok and against.broken_at == 1
    assert "MACs were removed or replaced after it" in against.reason
    db.dispose()


def test_audit_append_when_database_has_no_mac_key_then_refused(chain: Chain):

    keyless = Database(chain.db.url)
    with pytest.raises(InternalError, match="MAC key"), keyless.session() as s:
        audit.append(keyless, s, "user:mallory", "test.event", "thing:1")
    keyless.dispose()


def test_audit_verify_when_entries_predate_macs_then_reported_as_such(db_url: str, tmp_path: Path):
    # A database written before revision 0007: entries without MAC, then the upgrade.
    settings = settings_for(tmp_path, db_url)
    db = Database(db_url, audit_key=lambda: audit.mac_key(settings.secret()))
    config = Config()
    config.set_main_option("script_location", "sandbox:store/migrations")
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
    prev = audit.GENESIS
    with db.engine.begin() as conn:
        for seq in range(1, 6):
            at = f"2026-01-0{seq}T00:00:00.000000+00:00"
            digest = audit.entry_hash(seq, at, "system", "test.old", f"thing:{seq}", {}, prev)
            conn.execute(
                text(
                    "INSERT INTO audit_log (seq, at, actor, action, subject, details, "
                    "prev_hash, hash) VALUES (:seq, :at, 'system', 'test.old', :subject, "
                    "'{}', :prev, :hash)"
                ),
                {"seq": seq, "at": at, "subject": f"thing:{seq}", "prev": prev, "hash": digest},
            )
            prev = digest
    db.migrate()
    with db.session() as s:
        before = verify_chain(s, settings.secret())
        for i in range(3):
            audit.append(db, s, "user:a", "test.new", f"thing:{i}")
    assert before.ok and (before.unmaced, before.legacy) == (5, 5)
    assert before.note.startswith("entries 1..5 carry no MAC under the current key; 5 predate")
    with db.session() as s:
        after = verify_chain(s, settings.secret())
        published = load_heads(json.dumps(checkpoint(s, settings.secret())))
    assert after.ok and (after.entries, after.legacy) == (8, 5)
    assert "entries 1..5" in after.note
    # The first MACed entry vouches for the old ones: rewriting them breaks its MAC.
    with db.engine.begin() as conn:
        conn.execute(update(LOG).where(LOG.c.seq == 2).values(actor="user:mallory"))
        rechain(conn, 2)
    with db.session() as s:
        broken = verify_chain(s, settings.secret(), published)
    assert not broken.ok and broken.broken_at == 6 and "MAC does not match" in broken.reason
    db.dispose()


def test_audit_verify_when_a_release_predates_anchors_then_its_signature_is_checked(
    chain: Chain,
):
    # As a database written before revision 0007: no MACs, approvals without the manifest's
    # digest, manifests without a chain head, signed as they were then.

    job = chain.released[0]
    with chain.db.engine.begin() as conn:
        conn.execute(update(LOG).values(mac=None, mac_key=None))
        for r in conn.execute(select(LOG).where(LOG.c.action == "review.approve")).all():
            old = {k: v for k, v in r.details.items() if not k.startswith("manifest_")}
            conn.execute(update(LOG).where(LOG.c.seq == r.seq).values(details=old))
        rechain(conn, 1)
        for r in conn.execute(select(RELEASES)).all():
            old = {k: v for k, v in r.manifest.items() if k != "audit_head"}
            signature = signing.sign(chain.secret, old)
            conn.execute(
                update(RELEASES)
                .where(RELEASES.c.id == r.id)
                .values(manifest=old, signature=signature)
            )
    before = chain.verify()
    assert before.ok and (before.legacy, before.releases) == (chain.last, 2), before.reason
    with chain.db.engine.begin() as conn:
        manifest = conn.scalar(select(RELEASES.c.manifest).where(RELEASES.c.job_id == job))
        changed = {**manifest, "approval_reason": "approved by the director"}
        conn.execute(update(RELEASES).where(RELEASES.c.job_id == job).values(manifest=changed))
    after = chain.verify()
    assert not after.ok
    assert f"the manifest of job {job} does not verify under the current signing key" in (
        after.reason
    )


def _predate_anchors(chain: Chain, upto: int) -> None:
    """Make entries 1..upto look written before revision 0007, and the releases among them."""
    current = audit.key_id(audit.mac_key(chain.secret))
    with chain.db.engine.begin() as conn:
        conn.execute(update(LOG).where(LOG.c.seq <= upto).values(mac=None, mac_key=None))
        conn.execute(update(LOG).where(LOG.c.seq > upto).values(mac_key=current))
        for seq, job in zip(chain.approvals, chain.released, strict=True):
            details = conn.scalar(select(LOG.c.details).where(LOG.c.seq == seq))
            manifest = conn.scalar(select(RELEASES.c.manifest).where(RELEASES.c.job_id == job))
            if seq <= upto:
                details = {k: v for k, v in details.items() if not k.startswith("manifest_")}
                manifest.pop("audit_head")
            else:
                rechain(conn, 1)
                named = manifest["audit_head"]
                named["hash"] = conn.scalar(select(LOG.c.hash).where(LOG.c.seq == named["seq"]))
            signature = signing.sign(chain.secret, manifest)
            if seq > upto:
                digest = hashlib.sha256(audit.canonical_json(manifest)).hexdigest()
                details |= {"manifest_sha256": digest, "manifest_signature": signature}
            conn.execute(update(LOG).where(LOG.c.seq == seq).values(details=details))
            conn.execute(
                update(RELEASES)
                .where(RELEASES.c.job_id == job)
                .values(manifest=manifest, signature=signature)
            )
        rechain(conn, 1)
        key = audit.mac_key(chain.secret)
        for r in conn.execute(select(LOG.c.seq, LOG.c.hash).where(LOG.c.seq > upto)).all():
            mac = audit.entry_mac(key, r.seq, r.hash)
            conn.execute(update(LOG).where(LOG.c.seq == r.seq).values(mac=mac))


@pytest.mark.parametrize("releases_before", [1, 2])
def test_audit_verify_when_an_old_manifest_is_edited_and_a_mac_key_relabelled_then_found(
    chain: Chain, releases_before: int
):
    # Review of issue 12: relabelling the first MACed entry's key switched the signature
    # check of manifests signed before revision 0007 off.
    upto = chain.approvals[releases_before - 1]
    _predate_anchors(chain, upto)
    published = chain.head()
    before = chain.verify(published)
    assert before.ok and (before.legacy, before.releases) == (upto, 2), before.reason
    job = chain.released[0]
    with chain.db.engine.begin() as conn:
        manifest = conn.scalar(select(RELEASES.c.manifest).where(RELEASES.c.job_id == job))
        manifest["output"]["sha256"] = "f" * 64
        conn.execute(update(RELEASES).where(RELEASES.c.job_id == job).values(manifest=manifest))
        conn.execute(update(LOG).where(LOG.c.seq == upto + 1).values(mac_key="0123456789abcdef"))
    relabelled = chain.verify(published)
    assert not relabelled.ok and relabelled.broken_at == upto + 1
    with chain.db.engine.begin() as conn:  # the insider recomputes the hashes too
        rechain(conn, upto + 1)
    rehashed = chain.verify(published)
    assert not rehashed.ok and "neither the current key nor a retired one" in rehashed.reason
    declared = [RetiredKey("0123456789abcdef", signing.public_key_pem(b"x" * 40))]
    as_retired = chain.verify(published, retired=declared)
    assert not as_retired.ok and as_retired.broken_at == upto + 2  # its MAC covers the label
    with chain.db.engine.begin() as conn:  # the label restored, the manifest still edited
        conn.execute(
            update(LOG)
            .where(LOG.c.seq == upto + 1)
            .values(mac_key=audit.key_id(audit.mac_key(chain.secret)))
        )
        rechain(conn, upto + 1)
    edited = chain.verify(published)
    assert not edited.ok and f"the manifest of job {job} does not verify" in edited.reason
