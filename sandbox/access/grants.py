"""Grants service: create, suspend, reinstate, terminate (art. 34, 35, 76)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.kinds import KINDS
from policies.access import check_can_manage_datasets
from policies.airlock import MIN_REASON_LENGTH
from policies.budget import PrivacyBudget
from policies.catalog import OpenAttribute
from policies.errors import InvalidRequest, NotFound
from policies.grants import (
    GrantState,
    check_can_accept_commitment,
    check_can_grant,
    check_can_transition,
    check_grant_terms,
    check_in_force,
    commitment_text,
)
from policies.roles import OrgKind, Role, check_role
from sandbox.audit import chain as audit
from sandbox.catalog.datasets import get as get_dataset
from sandbox.catalog.withdraw import check_usable
from sandbox.store.db import Database
from sandbox.store.models import Grant, Organisation, User, utcnow


def job_kinds() -> frozenset[str]:
    """The kinds a grant may allow: the registered ones (:data:`jobs.kinds.KINDS`)."""
    return frozenset(KINDS.names())


#: Largest small-cell threshold or extract k a grant may set (every entry point, one rule).
MAX_GRANT_THRESHOLD = 10_000


def create(
    db: Database,
    session: Session,
    actor: str,
    user_id: int,
    *,
    org_id: int,
    datasets: Sequence[str],
    purpose: str,
    kinds: Sequence[str],
    budget: PrivacyBudget,
    expires_at: dt.datetime,
    commitment_required: bool,
    min_cell: int | None = None,
    extract_k: int | None = None,
    allow_linkage: bool = False,
    limits: Mapping[str, int] | None = None,
) -> Grant:
    """Grant an operator organisation access to datasets.

    Raises:
        NotFound: No such organisation or dataset.
        InvalidRequest: Not an operator organisation, unknown kind, bad expiry.
        PolicyViolation: A closed dataset, conditions of art. 34 unmet, or a dataset
            of another bureau than the steward's (art. 63).
        Conflict: A withdrawn dataset.
    """
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("no such organisation")
    if org.kind != OrgKind.OPERATOR.value:
        raise InvalidRequest("grants go to operator organisations (art. 35)")
    known = job_kinds()
    unknown = sorted(set(kinds) - known)
    if unknown:
        raise InvalidRequest(
            f"unknown job kinds: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    if not datasets:
        raise InvalidRequest("a grant names at least one dataset")
    check_grant_terms(expires_at, utcnow(), kinds)
    if min_cell is not None and not 1 <= min_cell <= MAX_GRANT_THRESHOLD:
        raise InvalidRequest(
            f"a grant's small-cell threshold is a count from 1 to {MAX_GRANT_THRESHOLD}"
        )
    if extract_k is not None and not 2 <= extract_k <= MAX_GRANT_THRESHOLD:
        raise InvalidRequest(f"a grant's extract k is from 2 to {MAX_GRANT_THRESHOLD}")
    jail_limits = dict(limits or {})
    if jail_limits:
        from jobs.kinds.custom.jail import Limits

        Limits.from_grant(jail_limits)  # unknown keys or values beyond the maxima are refused
    rows = [get_dataset(session, name) for name in dict.fromkeys(datasets)]
    for row in rows:
        check_usable(row)
    steward = _user(session, user_id)
    check_can_manage_datasets(Role(steward.role), steward.org_id, [d.org_id for d in rows])
    for d in rows:
        check_can_grant(d.name, OpenAttribute(d.open_attribute), purpose, commitment_required)
    eps, delta = budget.units
    grant = Grant(
        org_id=org.id,
        purpose=purpose,
        commitment_required=commitment_required,
        kinds=sorted(set(kinds)),
        epsilon_total=eps,
        delta_total=delta,
        expires_at=expires_at,
        min_cell=min_cell,
        extract_k=extract_k,
        allow_linkage=allow_linkage,
        limits=jail_limits,
        created_by=user_id,
        datasets=rows,
    )
    session.add(grant)
    session.flush()
    audit.append(
        db,
        session,
        actor,
        "grant.create",
        f"grant:{grant.id}",
        org=org.name,
        datasets=[d.name for d in rows],
        kinds=grant.kinds,
        epsilon=budget.epsilon,
        delta=budget.delta,
        expires_at=expires_at.isoformat(),
        min_cell=min_cell,
        extract_k=extract_k,
        allow_linkage=allow_linkage,
        limits=jail_limits,
        commitment_required=commitment_required,
    )
    return grant


def accept_commitment(
    db: Database, session: Session, actor: str, grant_id: int, *, user_id: int
) -> Grant:
    """The operator firm accepts its grant's data-use commitment (art. 34); idempotent.

    Records who accepted and when, and audits ``grant.commitment_accepted`` once; a
    second call changes nothing.

    Args:
        db: The metadata store.
        session: The transaction.
        actor: Who, as the audit log names them.
        grant_id: The grant.
        user_id: The operator accepting: of the grant's firm only.

    Raises:
        NotFound: No such grant for the operator's firm, or no such user.
        PolicyViolation: Not an operator, or the grant is not in force (suspended,
            terminated or expired: nothing it allows is to be committed to).
        Conflict: The grant requires no commitment.
    """
    user = _user(session, user_id)
    check_role(Role(user.role), Role.OPERATOR)
    grant = get(session, grant_id, for_update=True)
    if grant.org_id != user.org_id:
        raise NotFound("no such grant")
    check_can_accept_commitment(grant.commitment_required, grant.commitment_accepted)
    check_in_force(grant.state, grant.expires_at, utcnow())
    if not grant.commitment_accepted:
        grant.commitment_accepted = True
        grant.commitment_accepted_by = user.id
        grant.commitment_accepted_at = utcnow()
        audit.append(
            db,
            session,
            actor,
            "grant.commitment_accepted",
            f"grant:{grant.id}",
            org=grant.org.name,
            user=user.name,
            datasets=[d.name for d in grant.datasets],
            text_sha256=hashlib.sha256(commitment_text(grant.purpose).encode()).hexdigest(),
        )
    return grant


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    return user


def get(session: Session, grant_id: int, *, for_update: bool = False) -> Grant:
    """A grant by id; with ``for_update``, its row locked until the transaction ends.

    The lock is PostgreSQL's ``FOR NO KEY UPDATE``: it serializes the grant's
    submissions and state changes, yet lets other transactions check foreign keys to
    the grant (a worker filing a job's output, a ledger entry). ``FOR UPDATE`` blocked
    those checks: a submission holding the grant and waiting for the audit lock, and a
    worker holding the audit lock and updating its job, deadlocked (PostgreSQL then
    failed one of them, and the requests queued behind, with 500s).

    Raises:
        NotFound: No such grant.
    """
    stmt = select(Grant).where(Grant.id == grant_id)
    if for_update:
        stmt = stmt.with_for_update(of=Grant, key_share=True)
    grant = session.scalar(stmt)
    if grant is None:
        raise NotFound("no such grant")
    return grant


def transition(
    db: Database,
    session: Session,
    actor: str,
    grant_id: int,
    target: GrantState,
    reason: str,
    *,
    user_id: int,
) -> Grant:
    """Suspend, reinstate or terminate a grant (art. 76); idempotent.

    Args:
        db: The metadata store.
        session: The transaction.
        actor: Who, as the audit log names them.
        grant_id: The grant.
        target: The state to move to.
        reason: Why (audited).
        user_id: The steward acting: their bureau must own every dataset of the grant.

    Raises:
        NotFound: No such grant or user.
        PolicyViolation: Not a steward of the bureau owning the grant's datasets (art. 63).
        Conflict: The transition is not allowed.
        InvalidRequest: No reason given.
    """
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise InvalidRequest(
            f"give a reason of at least {MIN_REASON_LENGTH} characters (it is audited)"
        )
    grant = get(session, grant_id, for_update=True)
    steward = _user(session, user_id)
    check_can_manage_datasets(
        Role(steward.role), steward.org_id, [d.org_id for d in grant.datasets]
    )
    current = GrantState(grant.state)
    check_can_transition(current, target)
    if current != target:
        grant.state, grant.state_reason = target, reason
        audit.append(
            db,
            session,
            actor,
            f"grant.{target.value}",
            f"grant:{grant.id}",
            reason=reason,
            previous=current.value,
        )
    return grant


def list_for(session: Session, org_id: int | None) -> list[Grant]:
    """Grants of one organisation, or all when ``org_id`` is None."""
    stmt = select(Grant).order_by(Grant.id)
    if org_id is not None:
        stmt = stmt.where(Grant.org_id == org_id)
    return list(session.scalars(stmt))
