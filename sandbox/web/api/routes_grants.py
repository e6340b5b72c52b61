"""Grants (stewards create and change them; operators read their own)."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from policies.budget import PrivacyBudget
from policies.errors import NotFound
from policies.grants import GrantState
from policies.roles import Role, check_role
from sandbox.access import grants, ledger
from sandbox.store.models import Grant
from sandbox.web.api.schemas import (
    BudgetPeriodCreate,
    BudgetPeriodPublic,
    GrantAction,
    GrantCreate,
    GrantPublic,
)
from sandbox.web.deps import Caller, SandboxDep
from sandbox.web.params import IdPath

router = APIRouter(tags=["grants"])


def _public(session: Session, grant: Grant) -> GrantPublic:
    """A grant with its budget per dataset (its own spend and its firm's, from the ledger)."""
    return GrantPublic.of(grant, ledger.grant_budgets(session, grant))


@router.post("/grants", status_code=status.HTTP_201_CREATED)
def create_grant(body: GrantCreate, who: Caller, sandbox: SandboxDep) -> GrantPublic:
    """Grant an operator organisation datasets, kinds and a budget (steward)."""
    check_role(who.role, Role.STEWARD)
    with sandbox.db.session() as session:
        grant = grants.create(
            sandbox.db,
            session,
            who.actor,
            who.user_id,
            org_id=body.org_id,
            datasets=body.datasets,
            purpose=body.purpose,
            kinds=body.kinds,
            budget=PrivacyBudget(body.epsilon, body.delta),
            expires_at=body.expires_at,
            commitment_required=body.commitment_required,
            min_cell=body.min_cell,
            extract_k=body.extract_k,
            allow_linkage=body.allow_linkage,
            limits=body.limits,
        )
        return _public(session, grant)


@router.get("/grants")
def list_grants(who: Caller, sandbox: SandboxDep) -> list[GrantPublic]:
    """Grants: an operator sees its organisation's; stewards, auditors and admins all."""
    org = who.org_id if who.role is Role.OPERATOR else None
    with sandbox.db.session() as session:
        return [_public(session, g) for g in grants.list_for(session, org)]


@router.get("/grants/{grant_id}")
def get_grant(grant_id: IdPath, who: Caller, sandbox: SandboxDep) -> GrantPublic:
    """One grant, with its budget."""
    with sandbox.db.session() as session:
        grant = grants.get(session, grant_id)
        if who.role is Role.OPERATOR and grant.org_id != who.org_id:
            raise NotFound("no such grant")
        return _public(session, grant)


@router.post("/grants/{grant_id}/commitment")
def accept_commitment(grant_id: IdPath, who: Caller, sandbox: SandboxDep) -> GrantPublic:
    """Accept the grant's data-use commitment (art. 34) for the operator's own firm.

    Idempotent: who accepted and when are recorded once (audited
    ``grant.commitment_accepted``); the answer carries the commitment's text.
    """
    check_role(who.role, Role.OPERATOR)
    with sandbox.db.session() as session:
        grant = grants.accept_commitment(
            sandbox.db, session, who.actor, grant_id, user_id=who.user_id
        )
        return _public(session, grant)


def _transition(
    grant_id: IdPath, target: GrantState, body: GrantAction, who: Caller, sandbox: SandboxDep
) -> GrantPublic:
    check_role(who.role, Role.STEWARD)
    with sandbox.db.session() as session:
        grant = grants.transition(
            sandbox.db, session, who.actor, grant_id, target, body.reason, user_id=who.user_id
        )
        return _public(session, grant)


@router.post("/grants/{grant_id}/suspend")
def suspend(grant_id: IdPath, body: GrantAction, who: Caller, sandbox: SandboxDep) -> GrantPublic:
    """Suspend a grant: it accepts no new jobs (art. 76)."""
    return _transition(grant_id, GrantState.SUSPENDED, body, who, sandbox)


@router.post("/grants/{grant_id}/reinstate")
def reinstate(grant_id: IdPath, body: GrantAction, who: Caller, sandbox: SandboxDep) -> GrantPublic:
    """Reinstate a suspended grant."""
    return _transition(grant_id, GrantState.ACTIVE, body, who, sandbox)


@router.post("/grants/{grant_id}/terminate")
def terminate(grant_id: IdPath, body: GrantAction, who: Caller, sandbox: SandboxDep) -> GrantPublic:
    """End a grant for good (art. 76)."""
    return _transition(grant_id, GrantState.TERMINATED, body, who, sandbox)


@router.post("/budgets/periods", status_code=status.HTTP_201_CREATED)
def start_budget_period(
    body: BudgetPeriodCreate, who: Caller, sandbox: SandboxDep
) -> BudgetPeriodPublic:
    """Start a new budget period for a firm on a dataset (steward; the reason is audited).

    The firm's earlier charges on the dataset stop counting against its grants;
    identical queries still return their earlier answers.
    """
    check_role(who.role, Role.STEWARD)
    with sandbox.db.session() as session:
        account = ledger.start_period(
            sandbox.db,
            session,
            who.actor,
            who.user_id,
            steward_org=who.org_id,
            org_id=body.org_id,
            dataset=body.dataset,
            reason=body.reason,
        )
        return BudgetPeriodPublic(
            org_id=account.org_id,
            dataset=body.dataset,
            period=account.period,
            period_started_at=account.period_started_at,
            reason=account.period_reason,
        )
