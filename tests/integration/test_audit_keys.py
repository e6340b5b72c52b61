"""The audit MAC key: entries written before MACs, key rotation, MACs stripped (issue 12)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text, update

from policies.errors import InternalError
from sandbox import audit, signing
from sandbox.audit_anchors import checkpoint, load_heads
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
    rotated = b"the deployment's next secret, 32+ characters"
    db = Database(chain.db.url, audit_key=audit.mac_key(rotated))
    with db.session() as s:
        audit.append(db, s, "user:admin", "test.after_rotation", "thing:1")
        result = audit.verify(s, rotated, [published])
    assert result.ok, result.reason
    assert (result.unmaced, result.legacy, result.releases) == (chain.last, 0, 2)
    assert f"entries 1..{chain.last}" in result.note and "under a retired key" in result.note
    # The first entry under the new key vouches for the retired ones.
    with db.engine.begin() as conn:
        conn.execute(update(LOG).where(LOG.c.seq == 3).values(actor="user:mallory"))
        rechain(conn, 3)
    with db.session() as s:
        broken = audit.verify(s, rotated)
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
        rechain(conn, 9)
    with db.session() as s:
        stripped = audit.verify(s, secret)
        against = audit.verify(s, secret, published)
    assert stripped.ok and stripped.legacy == 9  # looks written before MACs: the note says so
    assert not against.ok and against.broken_at == 9
    assert "MACs were removed or replaced after it" in against.reason
    with db.engine.begin() as conn:
        conn.execute(update(LOG).where(LOG.c.seq == 4).values(actor="user:mallory"))
        rechain(conn, 4)
    with db.session() as s:
        rewritten = audit.verify(s, secret, published)
    assert not rewritten.ok and "does not match the head published" in rewritten.reason
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
    config.set_main_option("script_location", "sandbox:migrations")
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
        before = audit.verify(s, settings.secret())
        for i in range(3):
            audit.append(db, s, "user:a", "test.new", f"thing:{i}")
    assert before.ok and (before.unmaced, before.legacy) == (5, 5)
    assert before.note.startswith("entries 1..5 carry no MAC under the current key; 5 predate")
    with db.session() as s:
        after = audit.verify(s, settings.secret())
        published = load_heads(json.dumps(checkpoint(s, settings.secret())))
    assert after.ok and (after.entries, after.legacy) == (8, 5)
    assert "entries 1..5" in after.note
    # The first MACed entry vouches for the old ones: rewriting them breaks its MAC.
    with db.engine.begin() as conn:
        conn.execute(update(LOG).where(LOG.c.seq == 2).values(actor="user:mallory"))
        rechain(conn, 2)
    with db.session() as s:
        broken = audit.verify(s, settings.secret(), published)
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
