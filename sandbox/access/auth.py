"""Principals, API tokens and bootstrap of the first admin.

Tokens are 256 random bits (``sbx_`` + URL-safe base64), shown once and
stored as SHA-256: with that much entropy a plain hash cannot be reversed,
and a lookup by hash needs no per-row salt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from policies.errors import Conflict, InvalidRequest, NotFound, PolicyViolation, Unauthenticated
from policies.names import check_name
from policies.roles import OrgKind, Role, check_role_fits_org
from sandbox.audit import chain as audit
from sandbox.store.db import Database
from sandbox.store.models import ApiToken, ConsoleSession, Organisation, User, utcnow

TOKEN_PREFIX = "sbx_"  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    user_id: int
    name: str
    role: Role
    org_id: int
    org_name: str

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"user:{self.name}"


def new_token() -> str:
    """A fresh bearer token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 hex of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(db: Database, token: str | None, audit_failure: bool = True) -> Principal:
    """Resolve a bearer token; a failure is audited (without the token) unless
    ``audit_failure`` is False (an address the sign-in throttle holds).

    Raises:
        Unauthenticated: No token, unknown or revoked token, inactive user.
    """
    if token:
        with db.session() as session:
            row = _token_row(session, token)
            who = _principal(row) if row is not None else None
            if who is not None:
                return who
    if audit_failure:
        with db.session() as session:
            audit.append(db, session, "anonymous", "auth.failure", "token", presented=bool(token))
    raise Unauthenticated("missing, unknown or revoked token: pass 'Authorization: Bearer <token>'")


def live_token_id(db: Database, token: str | None) -> int:
    """The row id of a live token (not revoked, its user active), for a console session
    to name instead of holding the token; failures are not audited (the caller signed
    in with :func:`authenticate` first).

    Raises:
        Unauthenticated: No token, unknown or revoked token, inactive user.
    """
    if token:
        with db.session() as session:
            row = _token_row(session, token)
            if row is not None and _principal(row) is not None:
                return row.id
    raise Unauthenticated("missing, unknown or revoked token: pass 'Authorization: Bearer <token>'")


def token_principal(session: Session, token_id: int) -> Principal | None:
    """The caller a token row stands for, checked as :func:`authenticate` checks a token.

    Args:
        session: The transaction to read in.
        token_id: An :class:`~sandbox.store.models.ApiToken` row id.

    Returns:
        The principal, or None: no such token, revoked, or its user inactive.
    """
    row = session.get(ApiToken, token_id)
    return _principal(row) if row is not None else None


def _token_row(session: Session, token: str) -> ApiToken | None:
    """The token's row, compared in constant time, or None."""
    digest = hash_token(token)
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).one_or_none()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row


def _principal(row: ApiToken) -> Principal | None:
    """The caller of a live token's row; None if revoked or its user is inactive."""
    if row.revoked_at is not None or not row.user.active:
        return None
    u = row.user
    return Principal(u.id, u.name, Role(u.role), u.org_id, u.org.name)


def create_org(
    db: Database, session: Session, actor: str, name: str, kind: OrgKind
) -> Organisation:
    """Create an organisation.

    Raises:
        InvalidRequest: A name people could misread (:func:`policies.names.check_name`).
        Conflict: The name is taken.
    """
    name = check_name(name, "organisation name")
    if session.scalar(select(Organisation).where(Organisation.name == name)) is not None:
        raise Conflict(f"an organisation named '{name}' exists already")
    org = Organisation(name=name, kind=kind.value)
    session.add(org)
    session.flush()
    audit.append(db, session, actor, "org.create", f"org:{org.id}", name=name, kind=kind.value)
    return org


def create_user(
    db: Database, session: Session, actor: str, name: str, role: Role, org_id: int
) -> tuple[User, str]:
    """Create a user and their first token; the token is returned once, never stored.

    Raises:
        InvalidRequest: A name people could misread (:func:`policies.names.check_name`).
        NotFound: No such organisation.
        PolicyViolation: The role does not fit the organisation's kind.
        Conflict: The name is taken.
    """
    name = check_name(name, "user name")
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("no such organisation")
    check_role_fits_org(role, OrgKind(org.kind))
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise Conflict(f"a user named '{name}' exists already")
    user = User(name=name, role=role.value, org_id=org.id)
    session.add(user)
    session.flush()
    token = issue_token(session, user, "initial")
    audit.append(
        db,
        session,
        actor,
        "user.create",
        f"user:{user.id}",
        name=name,
        role=role.value,
        org=org.name,
    )
    return user, token


def issue_token(session: Session, user: User, label: str) -> str:
    """Store a new token's hash for ``user`` and return the token."""
    token = new_token()
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), label=label))
    session.flush()
    return token


def revoke_tokens(db: Database, session: Session, actor: str, user_id: int) -> int:
    """Revoke every live token of a user and end the console sessions made with them
    (on every API process: they share the database); returns how many tokens."""
    rows = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    ).all()
    for row in rows:
        row.revoked_at = utcnow()
    if rows:
        session.execute(
            delete(ConsoleSession).where(ConsoleSession.token_id.in_([r.id for r in rows]))
        )
    audit.append(db, session, actor, "token.revoke", f"user:{user_id}", count=len(rows))
    return len(rows)


def bootstrap(db: Database, name: str = "admin", org_name: str = "platform") -> str:
    """Create the platform organisation and the first admin; return the admin's token.

    Raises:
        Conflict: An admin exists already (bootstrap runs once).
        InvalidRequest: An empty name, or one people could misread
            (:func:`policies.names.check_name`).
    """
    name, org_name = check_name(name, "user name"), check_name(org_name, "organisation name")
    with db.session() as session:
        admins = session.scalar(select(func.count()).select_from(User).where(User.role == "admin"))
        if admins:
            raise Conflict("the sandbox is bootstrapped already; ask an admin for a token")
        org = create_org(db, session, "system", org_name, OrgKind.PLATFORM)
        _, token = create_user(db, session, "system", name, Role.ADMIN, org.id)
        return token


#: Longest token label (the column's width).
MAX_LABEL = 100


def issue_user_token(
    db: Database, session: Session, actor: str, user_id: int, label: str
) -> tuple[User, str]:
    """Issue a token for an active user, audited as ``token.issue`` (the chain says who
    holds a credential made for whom); the token is returned once, never stored.

    An operator may hold several (a notebook, a script). A steward, auditor or admin
    holds one: issuing theirs revokes the others, so no one can keep a second credential
    of a person whose approvals release data without that person noticing.

    Raises:
        InvalidRequest: An empty, overlong or misreadable label.
        NotFound: No such user.
        Conflict: The user is deactivated (their tokens sign no one in).
    """
    label = check_name(label.strip(), "token label")
    if len(label) > MAX_LABEL:
        raise InvalidRequest(f"a token label has at most {MAX_LABEL} characters")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    if not user.active:
        raise Conflict("the user is deactivated: a token for them would sign no one in")
    if Role(user.role) is not Role.OPERATOR:
        revoke_tokens(db, session, actor, user.id)
    token = issue_token(session, user, label)
    audit.append(db, session, actor, "token.issue", f"user:{user.id}", role=user.role, label=label)
    return user, token


def revoke_token(db: Database, session: Session, actor: str, token_id: int) -> ApiToken:
    """Revoke one token and end the console sessions made with it (audited as
    ``token.revoke``, as :func:`revoke_tokens`).

    Raises:
        NotFound: No such token.
        Conflict: It is revoked already.
    """
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("no such token")
    if row.revoked_at is not None:
        raise Conflict("the token is revoked already")
    row.revoked_at = utcnow()
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_id == row.id))
    audit.append(db, session, actor, "token.revoke", f"user:{row.user_id}", count=1, token=row.id)
    return row


def deactivate_user(
    db: Database, session: Session, actor: str, user_id: int, *, by_user_id: int
) -> User:
    """Deactivate a user: their tokens and console sessions stop signing them in at once
    (every request checks the user), and the row stays for the audit log's names.

    Raises:
        NotFound: No such user.
        Conflict: The user is deactivated already.
        PolicyViolation: ``by_user_id`` is the user (no one locks themself out), or the
            user is the last active admin.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    if user.id == by_user_id:
        raise PolicyViolation("you cannot deactivate yourself; ask another admin")
    if not user.active:
        raise Conflict("the user is deactivated already")
    if user.role == Role.ADMIN:
        admins = session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.active.is_(True))
        )
        if (admins or 0) <= 1:
            raise PolicyViolation("the last active admin cannot be deactivated")
    user.active = False
    session.flush()
    audit.append(db, session, actor, "user.deactivate", f"user:{user.id}", role=user.role)
    return user
