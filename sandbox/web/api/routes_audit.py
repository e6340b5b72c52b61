"""Audit log: read and verify (auditors, admins, stewards)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from policies.access import check_can_read_exact_facts_of
from policies.errors import NotFound
from policies.roles import Role, check_role
from sandbox.audit import signing
from sandbox.audit.anchors import retired_keys
from sandbox.audit.verify import verify as verify_chain
from sandbox.catalog.datasets import get as get_dataset
from sandbox.catalog.facts import verify_dataset
from sandbox.store.models import AuditEntry, Release
from sandbox.web.api.schemas import AuditEntryPublic, AuditVerifyPublic, InputCheckPublic
from sandbox.web.audit_view import entry_views
from sandbox.web.deps import Caller, SandboxDep
from sandbox.web.params import MAX_ID, IdPath

router = APIRouter(tags=["audit"])
_READERS = (Role.AUDITOR, Role.ADMIN, Role.STEWARD)


@router.get("/audit")
def entries(
    who: Caller,
    sandbox: SandboxDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditEntryPublic]:
    """Entries after sequence number ``after``; exact facts only for those who may read them."""
    check_role(who.role, *_READERS)
    with sandbox.db.session() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)
        )
        return [
            AuditEntryPublic.model_validate(v, from_attributes=True)
            for v in entry_views(session, who, rows)
        ]


@router.get("/audit/verify")
def verify(who: Caller, sandbox: SandboxDep) -> AuditVerifyPublic:
    """Walk the chain (links and MACs) and the releases; report the first problem.

    Heads published outside the host are checked by ``sandbox audit verify --against``.
    """
    check_role(who.role, *_READERS)
    with sandbox.db.session() as session:
        result = verify_chain(
            session,
            sandbox.settings.secret(),
            retired=retired_keys(sandbox.settings.audit_retired_keys),
        )
    return AuditVerifyPublic(
        ok=result.ok,
        entries=result.entries,
        broken_at=result.broken_at,
        reason=result.reason,
        head=result.head,
        head_seq=result.head_seq,
        unmaced=result.unmaced,
        legacy=result.legacy,
        releases=result.releases,
        note=result.note,
    )


@router.get("/manifests/public-key", response_class=PlainTextResponse)
def public_key(sandbox: SandboxDep) -> str:
    """The Ed25519 key that verifies release manifests (PEM); public by design."""
    return signing.public_key_pem(sandbox.settings.secret())


@router.get("/manifests/{job_id}/inputs")
def verify_inputs(job_id: IdPath, who: Caller, sandbox: SandboxDep) -> list[InputCheckPublic]:
    """Recompute the keyed digest of each input of a release from the stored files and
    compare it with the manifest's (auditors, and stewards of the bureau owning every
    input; reads every input file).

    ``matches`` is ``null`` for a manifest written before inputs carried a keyed digest.
    """
    check_role(who.role, Role.STEWARD, Role.AUDITOR)
    with sandbox.db.session() as session:
        release = session.scalar(select(Release).where(Release.job_id == job_id))
        if release is None:
            raise NotFound("the job has no release; check a released job's id")
        inputs = [
            (get_dataset(session, str(entry["name"])), entry.get("digest"))
            for entry in release.manifest.get("datasets", [])
        ]
        check_can_read_exact_facts_of(who.role, who.org_id, [d.org_id for d, _ in inputs])
        return [
            InputCheckPublic(
                **verify_dataset(
                    sandbox.settings.secret(),
                    d.name,
                    d.path,
                    d.sha256,
                    None if expected is None else str(expected),
                ).as_dict()
            )
            for d, expected in inputs
        ]
