"""The audit log against an insider who writes the database directly (issue 12).

Each case tampers with the store in plain SQL, as someone with database
access but without the deployment secret would, and ``audit.verify`` must
name the problem, given one head published (``sandbox audit checkpoint``)
after the tampering point. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, insert, select, update

from sandbox.audit import chain as audit
from sandbox.audit.anchors import PublishedHead
from tests.integration.audit_chain import LOG, RELEASES, Chain, build_chain, rechain


@pytest.fixture
def chain(db_url: str, tmp_path: Path) -> Iterator[Chain]:
    built = build_chain(db_url, tmp_path)
    yield built
    built.db.dispose()


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
    new = audit.entry_hash(
        3, r.at, "user:mallory", r.action, r.subject, r.details, r.prev_hash, r.mac_key
    )
    conn.execute(update(LOG).where(LOG.c.seq == 3).values(actor="user:mallory", hash=new))


def _recompute_chain(conn: Connection, c: Chain) -> None:
    conn.execute(update(LOG).where(LOG.c.seq == 3).values(actor="user:mallory"))
    rechain(conn, 3)


def _forge(conn: Connection, c: Chain, seq: int, mac: str | None, key: str | None) -> None:
    prev = conn.scalar(select(LOG.c.hash).where(LOG.c.seq == seq - 1))
    at = "2026-01-01T00:00:00.000000+00:00"
    details = {"n": 1}
    digest = audit.entry_hash(seq, at, "user:steward", "test.event", "job:1", details, prev, key)
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
    rechain(conn, 7)


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
    # Without MACs the chain looks written before them; the key fingerprint is hashed, so
    # every hash changes and each anchor (here the first manifest's head) tells.
    conn.execute(update(LOG).values(mac=None, mac_key=None))
    seq = c.approvals[-1] + 2  # after every release
    conn.execute(update(LOG).where(LOG.c.seq == seq).values(actor="user:mallory"))
    rechain(conn, 1)


def _replace_macs_with_own_key(conn: Connection, c: Chain) -> None:
    # A key of the insider's own: it is no key this deployment declares.
    seq = c.approvals[-1] + 2
    conn.execute(update(LOG).where(LOG.c.seq == seq).values(actor="user:mallory"))
    own = audit.mac_key(b"the insider's own key, long enough")
    conn.execute(update(LOG).values(mac_key=audit.key_id(own)))
    rechain(conn, 1)
    for r in conn.execute(select(LOG.c.seq, LOG.c.hash)).all():
        conn.execute(
            update(LOG).where(LOG.c.seq == r.seq).values(mac=audit.entry_mac(own, r.seq, r.hash))
        )


def _strip_macs_before_a_release(conn: Connection, c: Chain) -> None:
    # The same, before a release: its signed manifest names the head it saw.
    conn.execute(update(LOG).values(mac=None, mac_key=None))
    conn.execute(update(LOG).where(LOG.c.seq == 3).values(actor="user:mallory"))
    rechain(conn, 1)


def _relabel_mac_key(conn: Connection, c: Chain) -> None:
    # The key fingerprint is hashed: relabelling an entry is an edit like any other.
    conn.execute(update(LOG).where(LOG.c.seq == 3).values(mac_key="0123456789abcdef"))


def _forge_entry_at_seq_zero(conn: Connection, c: Chain) -> None:
    conn.execute(
        insert(LOG).values(
            seq=0,
            at="2026-01-01T00:00:00.000000+00:00",
            actor="user:bob",
            action="output.download",
            subject="job:1",
            details={},
            prev_hash=audit.GENESIS,
            hash="ab" * 32,
            mac="00" * 32,
            mac_key="x",
        )
    )


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
    (_strip_macs_and_recompute, "names audit entry"),
    (_strip_macs_before_a_release, "names audit entry"),
    (_replace_macs_with_own_key, "neither the current key nor a retired one declared"),
    (_relabel_mac_key, "content does not match its hash"),
    (_forge_entry_at_seq_zero, "the chain starts at 1"),  # was: unnoticed
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
    from sandbox.audit import signing

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


def test_audit_verify_when_a_head_names_a_foreign_key_then_this_deployment_did_not_sign_it(
    chain: Chain,
):
    genuine = chain.head()
    foreign = PublishedHead(genuine.seq, genuine.hash, genuine.time, "ffffffffffffffff", "junk")
    result = chain.verify(foreign)
    assert not result.ok and "this deployment did not sign it" in result.reason


def test_audit_verify_when_tail_and_its_release_row_are_cut_without_a_head_then_job_tells(
    chain: Chain,
):
    # No head published: the job's status still says released.
    job = chain.released[1]
    with chain.db.engine.begin() as conn:
        conn.execute(delete(LOG).where(LOG.c.seq >= chain.approvals[1]))
        conn.execute(delete(RELEASES).where(RELEASES.c.job_id == job))
    result = chain.verify()
    assert not result.ok and result.broken_at == chain.approvals[1]
    assert f"job {job} has the status released, but neither a release row" in result.reason


def test_audit_verify_when_a_cut_release_is_masked_by_an_approval_at_seq_below_1_then_found(
    chain: Chain,
):
    job = chain.released[1]
    with chain.db.engine.begin() as conn:
        details = conn.scalar(select(LOG.c.details).where(LOG.c.seq == chain.approvals[1]))
        conn.execute(delete(LOG).where(LOG.c.seq >= chain.approvals[1]))
        conn.execute(
            insert(LOG).values(
                seq=-1,
                at="x",
                actor="x",
                action="review.approve",
                subject=f"job:{job}",
                details=details,
                prev_hash="x",
                hash="cd" * 32,
            )
        )
    result = chain.verify()
    assert not result.ok and result.broken_at == -1 and "starts at 1" in result.reason
