"""Audit log: read and verify (auditors, admins, stewards)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from policies.roles import Role, check_role
from sandbox import audit, signing
from sandbox.api.deps import Caller, SandboxDep
from sandbox.api.params import MAX_ID
from sandbox.api.schemas import AuditEntryPublic, AuditVerifyPublic
from sandbox.store.models import AuditEntry

router = APIRouter(tags=["audit"])
_READERS = (Role.AUDITOR, Role.ADMIN, Role.STEWARD)


@router.get("/audit")
def entries(
    who: Caller,
    sandbox: SandboxDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditEntryPublic]:
    """Entries after sequence number ``after``."""
    check_role(who.role, *_READERS)
    with sandbox.db.session() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)
        )
        return [AuditEntryPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get("/audit/verify")
def verify(who: Caller, sandbox: SandboxDep) -> AuditVerifyPublic:
    """Walk the hash chain; report the first broken link."""
    check_role(who.role, *_READERS)
    with sandbox.db.session() as session:
        result = audit.verify(session)
    return AuditVerifyPublic(
        ok=result.ok,
        entries=result.entries,
        broken_at=result.broken_at,
        reason=result.reason,
        head=result.head,
    )


@router.get("/manifests/public-key", response_class=PlainTextResponse)
def public_key(sandbox: SandboxDep) -> str:
    """The Ed25519 key that verifies release manifests (PEM); public by design."""
    return signing.public_key_pem(sandbox.settings.secret())
