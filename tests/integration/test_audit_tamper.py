"""The audit log against an insider who writes the database directly (issue 12).

Each case tampers with the store in plain SQL, as someone with database
access but without the deployment secret would, and ``audit.verify`` must
name the problem, given one head published (``sandbox audit checkpoint``)
after the tampering point. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, delete, insert, select, text, update

from jobs.runner import Outcome, Task, execute
from policies.airlock import Decision
from policies.budget import PrivacyBudget
from policies.catalog import ColumnTag, Grade, OpenAttribute
from policies.roles import OrgKind, Role
from sandbox import airlock, audit, auth, catalog, grants
from sandbox.audit_anchors import PublishedHead, checkpoint, load_heads
from sandbox.auth import Principal
from sandbox.job_service import JobService
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Release
from tests.factories import PUBLIC_KEYS, TAGS, aggregate_spec, residents

LOG = AuditEntry.__table__
RELEASES = Release.__table__


class _InProcess:
    """Runs tasks with the real executor, without Ray."""

    def run(self, task: Task) -> Outcome:
        return execute(task)


@dataclass
class Chain:
    """A store with a real history: set-up, two released jobs, a download, later events."""

    db: Database
    secret: bytes
    released: list[int]  # job ids
    approvals: list[int]  # sequence numbers of their releasing review.approve entries
    last: int  # the chain's last sequence number

    def verify(self, *heads: PublishedHead) -> audit.Verification:
        with self.db.session() as s:
            return audit.verify(s, self.secret, heads)

    def head(self) -> PublishedHead:
        with self.db.session() as s:
            return load_heads(json.dumps(checkpoint(s, self.secret)))[0]

    def rows(self, first: int = 1) -> list[dict[str, Any]]:
        with self.db.engine.connect() as conn:
            result = conn.execute(select(LOG).where(LOG.c.seq >= first).order_by(LOG.c.seq))
            return [dict(r._mapping) for r in result]


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=url)


@pytest.fixture
def chain(db_url: str, tmp_path: Path) -> Iterator[Chain]:
    settings = _settings(tmp_path, db_url)
    db = Database(db_url, audit_key=lambda: audit.mac_key(settings.secret()))
    db.migrate()
    with db.session() as s:
        bureau = auth.create_org(db, s, "test", "bureau", OrgKind.BUREAU)
        firm = auth.create_org(db, s, "test", "firm", OrgKind.OPERATOR)
        steward, _ = auth.create_user(db, s, "test", "steward", Role.STEWARD, bureau.id)
        analyst, _ = auth.create_user(db, s, "test", "analyst", Role.OPERATOR, firm.id)
        reviewer = Principal(steward.id, "steward", Role.STEWARD, bureau.id, "bureau")
        who = Principal(analyst.id, "analyst", Role.OPERATOR, firm.id, "firm")
    upload = tmp_path / "residents.parquet"
    residents().write_parquet(upload)
    catalog.ingest(
        db,
        settings,
        "test",
        reviewer.user_id,
        upload,
        catalog.IngestRequest(
            name="residents",
            source="test",
            open_attribute=OpenAttribute.UNCONDITIONAL,
            grade=Grade.GENERAL,
            tags={k: ColumnTag(v) for k, v in TAGS.items()},
            privacy_unit="resident_id",
            public_keys=PUBLIC_KEYS,
        ),
    )
    with db.session() as s:
        grant_id = grants.create(
            db,
            s,
            "test",
            reviewer.user_id,
            org_id=who.org_id,
            datasets=["residents"],
            purpose="",
            kinds=["aggregate"],
            budget=PrivacyBudget(2.0),
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            commitment_accepted=False,
        ).id
    service = JobService(db, settings, _InProcess(), workers=1)  # type: ignore[arg-type]
    jobs = [service.submit(who, grant_id, aggregate_spec(epsilon=e)).id for e in (0.3, 0.4)]
    service.shutdown(wait=True)
    for job_id in jobs:
        airlock.review(
            db,
            settings,
            reviewer,
            job_id,
            Decision.APPROVE,
            "looks fine",
            override_reason="test data only",
        )
    airlock.download(db, who, jobs[0])
    with db.session() as s:
        for i in range(3):
            audit.append(db, s, "user:analyst", "test.event", f"thing:{i}")
        approvals = list(
            s.scalars(
                select(AuditEntry.seq)
                .where(AuditEntry.action == "review.approve")
                .order_by(AuditEntry.seq)
            )
        )
        last = audit.head(s)[0]
    yield Chain(db, settings.secret(), jobs, approvals, last)
    db.dispose()


def _rechain(conn: Connection, first: int) -> None:
    """Recompute every hash from entry ``first`` on, as the insider can (not the MACs)."""
    prev = conn.scalar(select(LOG.c.hash).where(LOG.c.seq == first - 1)) or audit.GENESIS
    rows = conn.execute(select(LOG).where(LOG.c.seq >= first).order_by(LOG.c.seq)).all()
    for r in rows:
        new = audit.entry_hash(r.seq, r.at, r.actor, r.action, r.subject, r.details, prev)
        conn.execute(update(LOG).where(LOG.c.seq == r.seq).values(prev_hash=prev, hash=new))
        prev = new


def _move(conn: Connection, seq: int, to: int) -> None:
    conn.execute(update(LOG).where(LOG.c.seq == seq).values(seq=to))


def _edit_field(conn: Connection, c: Chain) -> None:
    conn.execute(update(LOG).where(LOG.c.seq == 3).values(actor="user:mallory"))


def _edit_timestamp(conn: Connection, c: Chain) -> None:
    conn.execute(update(LOG).where(LOG.c.seq == 3).values(at="2020-01-01T00:00:00.000000+00:00"))


def _edit_review_details(conn: Connection, c: Chain) -> None:
    seq = c.approvals[0]
    details = conn.scalar(select(LOG.c.details).where(LOG.c.seq == seq))
    conn.execute(update(LOG).where(LOG.c.seq == seq).values(details={**details, "reason": "other"}))


def _delete_entry(conn: Connection, c: Chain) -> None:
    conn.execute(delete(LOG).where(LOG.c.seq == 4))


def _swap_entries(conn: Connection, c: Chain) -> None:
    _move(conn, 4, -1)
    _move(conn, 5, 4)
    _move(conn, -1, 5)


def _renumber_entries(conn: Connection, c: Chain) -> None:
    conn.execute(delete(LOG).where(LOG.c.seq == 4))
    for seq in range(5, c.last + 1):
        _move(conn, seq, seq - 1)


def _edit_and_rehash_one(conn: Connection, c: Chain) -> None:
    r = conn.execute(select(LOG).where(LOG.c.seq == 3)).one()
    new = audit.entry_hash(3, r.at, "user:mallory", r.action, r.subject, r.details, r.prev_hash)
    conn.execute(update(LOG).where(LOG.c.seq == 3).values(actor="user:mallory", hash=new))


def _recompute_chain(conn: Connection, c: Chain) -> None:
    conn.execute(update(LOG).where(LOG.c.seq == 3).values(actor="user:mallory"))
    _rechain(conn, 3)


def _forge(conn: Connection, c: Chain, seq: int, mac: str | None, key: str | None) -> None:
    prev = conn.scalar(select(LOG.c.hash).where(LOG.c.seq == seq - 1))
    at = "2026-01-01T00:00:00.000000+00:00"
    details = {"n": 1}
    digest = audit.entry_hash(seq, at, "user:steward", "test.event", "job:1", details, prev)
    conn.execute(
        insert(LOG).values(
            seq=seq,
            at=at,
            actor="user:steward",
            action="test.event",
            subject="job:1",
            details=details,
            prev_hash=prev,
            hash=digest,
            mac=mac,
            mac_key=key,
        )
    )


def _append_forged(conn: Connection, c: Chain) -> None:
    _forge(conn, c, c.last + 1, None, None)


def _append_forged_with_a_guessed_mac(conn: Connection, c: Chain) -> None:
    key = conn.scalar(select(LOG.c.mac_key).where(LOG.c.seq == c.last))
    _forge(conn, c, c.last + 1, "ab" * 32, key)


def _insert_forged_in_the_middle(conn: Connection, c: Chain) -> None:
    for seq in range(c.last, 5, -1):
        _move(conn, seq, seq + 1)
    _forge(conn, c, 6, None, None)
    _rechain(conn, 7)


def _cut_tail_without_release(conn: Connection, c: Chain) -> None:
    conn.execute(delete(LOG).where(LOG.c.seq > c.approvals[-1] + 1))


def _cut_tail_with_release(conn: Connection, c: Chain) -> None:
    conn.execute(delete(LOG).where(LOG.c.seq >= c.approvals[-1]))


def _delete_release_row(conn: Connection, c: Chain) -> None:
    conn.execute(delete(RELEASES).where(RELEASES.c.job_id == c.released[0]))


def _edit_manifest(conn: Connection, c: Chain) -> None:
    job = c.released[0]
    manifest = conn.scalar(select(RELEASES.c.manifest).where(RELEASES.c.job_id == job))
    changed = {**manifest, "approval_reason": "approved by the director"}
    conn.execute(update(RELEASES).where(RELEASES.c.job_id == job).values(manifest=changed))


def _edit_signature(conn: Connection, c: Chain) -> None:
    other = conn.scalar(select(RELEASES.c.signature).where(RELEASES.c.job_id == c.released[1]))
    conn.execute(update(RELEASES).where(RELEASES.c.job_id == c.released[0]).values(signature=other))


def _strip_macs_and_recompute(conn: Connection, c: Chain) -> None:
    # Without MACs the chain looks written before them: the published head still tells.
    conn.execute(update(LOG).values(mac=None, mac_key=None))
    seq = c.approvals[-1] + 2  # after every release: no manifest names a later head
    conn.execute(update(LOG).where(LOG.c.seq == seq).values(actor="user:mallory"))
    _rechain(conn, seq)


def _replace_macs_with_own_key(conn: Connection, c: Chain) -> None:
    # A key of the insider's own: the entries look MACed under a retired key.
    seq = c.approvals[-1] + 2
    conn.execute(update(LOG).where(LOG.c.seq == seq).values(actor="user:mallory"))
    _rechain(conn, seq)
    own = audit.mac_key(b"the insider's own key, long enough")
    for r in conn.execute(select(LOG.c.seq, LOG.c.hash)).all():
        mac = audit.entry_mac(own, r.seq, r.hash)
        conn.execute(
            update(LOG).where(LOG.c.seq == r.seq).values(mac=mac, mac_key=audit.key_id(own))
        )


def _strip_macs_before_a_release(conn: Connection, c: Chain) -> None:
    # The same, before a release: its signed manifest names the head it saw.
    conn.execute(update(LOG).values(mac=None, mac_key=None))
    conn.execute(update(LOG).where(LOG.c.seq == 3).values(actor="user:mallory"))
    _rechain(conn, 3)


Tamper = Callable[[Connection, Chain], None]

#: (tampering, what verify must say). The first fifteen are issue 12's classes.
CASES: list[tuple[Tamper, str]] = [
    (_edit_field, "content does not match its hash"),
    (_edit_timestamp, "content does not match its hash"),
    (_edit_review_details, "content does not match its hash"),
    (_delete_entry, "entry 4 is missing"),
    (_swap_entries, "prev_hash does not match"),
    (_renumber_entries, "prev_hash does not match"),
    (_edit_and_rehash_one, "MAC does not match"),  # was: the next link breaks
    (_recompute_chain, "MAC does not match"),  # was: unnoticed
    (_append_forged, "carries no MAC although earlier entries do"),  # was: unnoticed
    (_cut_tail_without_release, "entries were cut off its end"),  # was: unnoticed
    (_cut_tail_with_release, "was released but no entry records its release"),
    (_delete_release_row, "the releases table has no row for it"),  # was: unnoticed
    (_edit_manifest, "the manifest was edited"),  # was: unnoticed
    (_edit_signature, "the signature was edited"),  # was: unnoticed
    (_insert_forged_in_the_middle, "carries no MAC although earlier entries do"),
    # Beyond the fifteen: a guessed MAC, MACs removed wholesale.
    (_append_forged_with_a_guessed_mac, "MAC does not match"),
    (_strip_macs_and_recompute, "MACs were removed"),
    (_strip_macs_before_a_release, "names audit entry"),
    (_replace_macs_with_own_key, "MACs were removed or replaced"),
]


def test_audit_verify_when_nothing_is_tampered_then_chain_releases_and_head_hold(chain: Chain):
    result = chain.verify(chain.head())
    assert result.ok, result.reason
    assert (result.entries, result.head_seq, result.releases) == (chain.last, chain.last, 2)
    assert (result.unmaced, result.legacy, result.published_heads, result.note) == (0, 0, 1, "")


@pytest.mark.parametrize(("tamper", "says"), CASES, ids=[c[0].__name__[1:] for c in CASES])
def test_audit_verify_when_an_insider_tampers_then_it_names_the_problem(
    chain: Chain, tamper: Tamper, says: str
):
    published = chain.head()  # published outside the host, after the tampering point
    with chain.db.engine.begin() as conn:
        tamper(conn, chain)
    result = chain.verify(published)
    assert not result.ok
    assert says in result.reason
    assert result.broken_at is not None


def test_audit_verify_when_tail_is_cut_without_a_published_head_then_unnoticed(chain: Chain):
    # The limit the README states: what follows the newest head can be cut off unseen.
    with chain.db.engine.begin() as conn:
        _cut_tail_without_release(conn, chain)
    assert chain.verify().ok
    stale = _published_head_at(chain, chain.approvals[-1] + 1)
    assert chain.verify(stale).ok


def _published_head_at(chain: Chain, seq: int) -> PublishedHead:
    """A head for an earlier entry, signed as checkpoint would have signed it then."""
    from sandbox import signing

    digest = chain.rows(seq)[0]["hash"]
    body = {
        "seq": seq,
        "hash": digest,
        "time": "2026-01-01T00:00:00+00:00",
        "mac_key": audit.key_id(audit.mac_key(chain.secret)),
    }
    return PublishedHead(**body, signature=signing.sign(chain.secret, body))


def test_audit_verify_when_a_head_is_forged_then_its_signature_is_refused(chain: Chain):
    genuine = chain.head()
    forged = PublishedHead(genuine.seq + 5, genuine.hash, genuine.time, genuine.mac_key, "AAAA")
    result = chain.verify(forged)
    assert not result.ok and "does not verify under the current signing key" in result.reason


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
        _recompute_chain(conn, chain)
    with db.session() as s:
        broken = audit.verify(s, rotated)
    assert not broken.ok and broken.broken_at == chain.last + 1
    db.dispose()


def _plain_chain(db_url: str, tmp_path: Path, n: int) -> tuple[Database, bytes]:
    settings = _settings(tmp_path, db_url)
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
        _rechain(conn, 9)
    with db.session() as s:
        stripped = audit.verify(s, secret)
        against = audit.verify(s, secret, published)
    assert stripped.ok and stripped.legacy == 9  # looks written before MACs: the note says so
    assert not against.ok and against.broken_at == 9
    assert "MACs were removed or replaced after it" in against.reason
    with db.engine.begin() as conn:
        conn.execute(update(LOG).where(LOG.c.seq == 4).values(actor="user:mallory"))
        _rechain(conn, 4)
    with db.session() as s:
        rewritten = audit.verify(s, secret, published)
    assert not rewritten.ok and "does not match the head published" in rewritten.reason
    db.dispose()


def test_audit_append_when_database_has_no_mac_key_then_refused(chain: Chain):
    from policies.errors import InternalError

    keyless = Database(chain.db.url)
    with pytest.raises(InternalError, match="MAC key"), keyless.session() as s:
        audit.append(keyless, s, "user:mallory", "test.event", "thing:1")
    keyless.dispose()


def test_audit_verify_when_entries_predate_macs_then_reported_as_such(db_url: str, tmp_path: Path):
    # A database written before revision 0007: entries without MAC, then the upgrade.
    settings = _settings(tmp_path, db_url)
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
        _rechain(conn, 2)
    with db.session() as s:
        broken = audit.verify(s, settings.secret(), published)
    assert not broken.ok and broken.broken_at == 6 and "MAC does not match" in broken.reason
    db.dispose()


def test_audit_verify_when_a_release_predates_anchors_then_its_signature_is_checked(
    chain: Chain,
):
    # As a database written before revision 0007: no MACs, approvals without the manifest's
    # digest, manifests without a chain head, signed as they were then.
    from sandbox import signing

    job = chain.released[0]
    with chain.db.engine.begin() as conn:
        conn.execute(update(LOG).values(mac=None, mac_key=None))
        for r in conn.execute(select(LOG).where(LOG.c.action == "review.approve")).all():
            old = {k: v for k, v in r.details.items() if not k.startswith("manifest_")}
            conn.execute(update(LOG).where(LOG.c.seq == r.seq).values(details=old))
        _rechain(conn, 1)
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
        _edit_manifest(conn, chain)
    after = chain.verify()
    assert not after.ok
    assert f"the manifest of job {job} does not verify under the current signing key" in (
        after.reason
    )
