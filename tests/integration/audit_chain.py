"""A store with a real audit history, and what an insider does to it (issue 12 tests).

Used by ``test_audit_tamper.py`` and ``test_audit_keys.py``: set-up entries,
two released jobs, a download and later events, built without Ray.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from jobs.runner import Outcome, Task, execute
from policies.airlock import Decision
from policies.roles import Role
from sandbox.access.auth import Principal
from sandbox.airlock import review as airlock
from sandbox.audit import chain as audit
from sandbox.audit.anchors import PublishedHead, RetiredKey, checkpoint, load_heads
from sandbox.audit.verify import Verification
from sandbox.audit.verify import verify as verify_chain
from sandbox.jobs.service import JobService
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Release, User
from tests.factories import aggregate_spec
from tests.integration.test_store import _world as store_world

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

    def verify(self, *heads: PublishedHead, retired: Sequence[RetiredKey] = ()) -> Verification:
        with self.db.session() as s:
            return verify_chain(s, self.secret, heads, retired)

    def head(self) -> PublishedHead:
        with self.db.session() as s:
            return load_heads(json.dumps(checkpoint(s, self.secret)))[0]

    def rows(self, first: int = 1) -> list[dict[str, Any]]:
        with self.db.engine.connect() as conn:
            result = conn.execute(select(LOG).where(LOG.c.seq >= first).order_by(LOG.c.seq))
            return [dict(r._mapping) for r in result]


def settings_for(tmp_path: Path, url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=url)


def build_chain(db_url: str, tmp_path: Path) -> Chain:
    """Build the history; the caller disposes of ``chain.db``."""
    settings = settings_for(tmp_path, db_url)
    db = Database(db_url, audit_key=lambda: audit.mac_key(settings.secret()))
    db.migrate()
    settings, who, grant_id = store_world(db, tmp_path, epsilon=2.0)
    with db.session() as s:
        steward = s.scalars(select(User).where(User.role == Role.STEWARD.value)).one()
        reviewer = Principal(steward.id, steward.name, Role.STEWARD, steward.org_id, "bureau")
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
    return Chain(db, settings.secret(), jobs, approvals, last)


def rechain(conn: Connection, first: int) -> None:
    """Recompute every hash from entry ``first`` on, as the insider can (not the MACs)."""
    prev = conn.scalar(select(LOG.c.hash).where(LOG.c.seq == first - 1)) or audit.GENESIS
    rows = conn.execute(select(LOG).where(LOG.c.seq >= first).order_by(LOG.c.seq)).all()
    for r in rows:
        new = audit.entry_hash(
            r.seq, r.at, r.actor, r.action, r.subject, r.details, prev, r.mac_key
        )
        conn.execute(update(LOG).where(LOG.c.seq == r.seq).values(prev_hash=prev, hash=new))
        prev = new
