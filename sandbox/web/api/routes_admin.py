"""Organisations, users and tokens (admin)."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select

from policies.errors import NotFound
from policies.roles import OrgKind, Role, check_role
from sandbox.access import auth
from sandbox.audit import chain as audit
from sandbox.store.models import Organisation, User
from sandbox.web.api.schemas import OrgCreate, OrgPublic, TokenPublic, UserCreate, UserPublic
from sandbox.web.deps import Caller, SandboxDep
from sandbox.web.params import IdPath

router = APIRouter(tags=["admin"])


def _user(u: User) -> UserPublic:
    return UserPublic(id=u.id, name=u.name, role=Role(u.role), org_id=u.org_id, org_name=u.org.name)


@router.get("/me")
def me(who: Caller) -> UserPublic:
    """The caller."""
    return UserPublic(
        id=who.user_id, name=who.name, role=who.role, org_id=who.org_id, org_name=who.org_name
    )


@router.post("/orgs", status_code=status.HTTP_201_CREATED)
def create_org(body: OrgCreate, who: Caller, sandbox: SandboxDep) -> OrgPublic:
    """Create an organisation (admin)."""
    check_role(who.role, Role.ADMIN)
    with sandbox.db.session() as session:
        org = auth.create_org(sandbox.db, session, who.actor, body.name, body.kind)
        return OrgPublic(id=org.id, name=org.name, kind=OrgKind(org.kind))


@router.get("/orgs")
def list_orgs(who: Caller, sandbox: SandboxDep) -> list[OrgPublic]:
    """Organisations (admin, steward)."""
    check_role(who.role, Role.ADMIN, Role.STEWARD)
    with sandbox.db.session() as session:
        rows = session.scalars(select(Organisation).order_by(Organisation.id))
        return [OrgPublic(id=o.id, name=o.name, kind=OrgKind(o.kind)) for o in rows]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, who: Caller, sandbox: SandboxDep) -> TokenPublic:
    """Create a user; the answer holds their token, shown this once."""
    check_role(who.role, Role.ADMIN)
    with sandbox.db.session() as session:
        user, token = auth.create_user(
            sandbox.db, session, who.actor, body.name, body.role, body.org_id
        )
        return TokenPublic(user=_user(user), token=token)


@router.post("/users/{user_id}/tokens", status_code=status.HTTP_201_CREATED)
def rotate_token(user_id: IdPath, who: Caller, sandbox: SandboxDep) -> TokenPublic:
    """Revoke a user's tokens and issue a new one (admin)."""
    check_role(who.role, Role.ADMIN)
    with sandbox.db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no such user")
        auth.revoke_tokens(sandbox.db, session, who.actor, user.id)
        token = auth.issue_token(session, user, "rotated")
        # the admin holds this user's new credential: the chain says who issued it, for whom
        audit.append(
            sandbox.db, session, who.actor, "token.issue", f"user:{user.id}", role=user.role
        )
        return TokenPublic(user=_user(user), token=token)
