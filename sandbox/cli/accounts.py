"""``sandbox admin org|user|token``: organisations, users and tokens, on this host's database.

These commands are the platform administrator's, at a shell on the host that
runs the service, like ``sandbox admin bootstrap``: they open the database
named by the settings (``SANDBOX_DATA_DIR`` / ``SANDBOX_DATABASE_URL``)
directly and need no token, so that the first organisations and users can be
made before anyone holds one. Each is audited as ``system:cli`` in the same
transaction. An admin elsewhere does the same through the API with a token
(``POST /v1/orgs``, ``POST /v1/users``, ``POST /v1/users/{id}/tokens``).

Names pass the API's own validation (:class:`~sandbox.web.api.schemas.OrgCreate`,
:class:`~sandbox.web.api.schemas.UserCreate`), so a name the API would refuse is
refused here too. A token is printed once, alone on stdout (the note goes to
stderr), so that ``TOKEN=$(sandbox admin user create …)`` captures it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from policies.errors import InvalidRequest, NotFound, SandboxError
from policies.roles import OrgKind, Role
from sandbox.cli import render as R

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sandbox.store.db import Database
    from sandbox.store.models import Organisation, User

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: How the audit log names the person at the host's shell.
ACTOR = "system:cli"

org_app = typer.Typer(
    help="Organisations (on this host's database, like bootstrap; audited as system:cli).",
    no_args_is_help=True,
)
user_app = typer.Typer(
    help="Users (on this host's database, like bootstrap; audited as system:cli).",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="API tokens (on this host's database, like bootstrap; audited as system:cli).",
    no_args_is_help=True,
)


def _fail(error: SandboxError) -> NoReturn:
    """A refusal of a local admin command: the message (no value of data), exit 2."""
    R.say(f"error: {error}", to_err=True)
    raise typer.Exit(2)


def _valid(model: type[M], **fields: object) -> M:
    """``fields`` validated by the API's schema; the refusal names fields, never values."""
    try:
        return model.model_validate(fields)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        raise InvalidRequest(problems) from err


def _in_transaction(action: Callable[[Database, Session], T]) -> T:
    """Run ``action`` in one transaction of the settings' database (made if missing)."""
    from sandbox.cli.local import open_database, settings

    db = open_database(settings())
    try:
        with db.session() as session:
            return action(db, session)
    finally:
        db.dispose()


def _org(session: Session, org: str) -> Organisation:
    """An organisation by its name, or by its id when no organisation has that name."""
    from sqlalchemy import select

    from policies.names import check_name
    from sandbox.store.models import Organisation

    found = session.scalars(
        select(Organisation).where(Organisation.name == check_name(org, "organisation name"))
    ).one_or_none()
    if found is None and org.isdecimal():
        found = session.get(Organisation, int(org))
    if found is None:
        raise NotFound(
            "no such organisation: give its name or id (`sandbox admin org list` lists them)"
        )
    return found


def _user(session: Session, user: str) -> User:
    """A user by name, or by id when no user has that name."""
    from sqlalchemy import select

    from policies.names import check_name
    from sandbox.store.models import User

    found = session.scalars(
        select(User).where(User.name == check_name(user, "user name"))
    ).one_or_none()
    if found is None and user.isdecimal():
        found = session.get(User, int(user))
    if found is None:
        raise NotFound("no such user: give their name or id (`sandbox admin user list` lists them)")
    return found


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(help="The organisation's name (e.g. 江苏省数据局)")],
    kind: Annotated[
        OrgKind,
        typer.Option(
            "--kind",
            help="bureau: a data bureau (its users are stewards and auditors); operator: an "
            "authorized operator firm (art. 35; its users are operators)",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """Create an organisation; its id is printed."""
    from sandbox.access.auth import create_org
    from sandbox.web.api.schemas import OrgCreate

    try:
        body = _valid(OrgCreate, name=name, kind=kind)

        def create(db: Database, session: Session) -> dict[str, object]:
            org = create_org(db, session, ACTOR, body.name, body.kind)
            return {"id": org.id, "name": org.name, "kind": body.kind.value}

        made = _in_transaction(create)
    except SandboxError as error:
        _fail(error)
    if as_json:
        R.dump(made)
    else:
        R.say(f"organisation {made['id']} '{made['name']}' ({made['kind']}) created")


@org_app.command("list")
def org_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """Organisations with their ids and kinds."""
    from sqlalchemy import select

    from sandbox.store.models import Organisation

    def read(_db: Database, session: Session) -> list[dict[str, object]]:
        rows = session.scalars(select(Organisation).order_by(Organisation.id))
        return [{"id": o.id, "name": o.name, "kind": OrgKind(o.kind).value} for o in rows]

    try:
        orgs = _in_transaction(read)
    except SandboxError as error:
        _fail(error)
    R.listing("organisations", orgs, {"id": "id", "name": "name", "kind": "kind"}, as_json)


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="The user's name (letters, digits, _ . @ -)")],
    org: Annotated[str, typer.Option("--org", help="Their organisation: name or id")],
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            help="steward or auditor (a bureau), operator (an operator firm), admin (the platform)",
        ),
    ],
) -> None:
    """Create a user and print their first token, once (it is stored hashed).

    The token alone goes to stdout: hand it to the user over a channel you trust.
    """
    from sandbox.access.auth import create_user
    from sandbox.web.api.schemas import UserCreate

    def create(db: Database, session: Session) -> tuple[str, str, str]:
        found = _org(session, org)
        body = _valid(UserCreate, name=name, role=role, org_id=found.id)
        user, token = create_user(db, session, ACTOR, body.name, body.role, found.id)
        return user.name, found.name, token

    try:
        made, org_name, token = _in_transaction(create)
    except SandboxError as error:
        _fail(error)
    R.say(f"{role.value} '{made}' of '{org_name}' created; their token is shown once:", to_err=True)
    typer.echo(token)


@user_app.command("list")
def user_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """Users with their roles and organisations (never a token)."""
    from sqlalchemy import select

    from sandbox.store.models import User

    def read(_db: Database, session: Session) -> list[dict[str, object]]:
        rows = session.scalars(select(User).order_by(User.id))
        return [
            {
                "id": u.id,
                "name": u.name,
                "role": Role(u.role).value,
                "org_name": u.org.name,
                "active": u.active,
            }
            for u in rows
        ]

    try:
        users = _in_transaction(read)
    except SandboxError as error:
        _fail(error)
    columns = {"id": "id", "name": "name", "role": "role", "org_name": "organisation"}
    R.listing("users", users, columns | {"active": "active"}, as_json)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="The user: name or id")],
    revoke: Annotated[
        bool,
        typer.Option(
            "--revoke/--keep",
            help="Revoke the user's other tokens first (a lost or leaked token), or keep them",
        ),
    ] = True,
) -> None:
    """Issue a new token for a user and print it, once (it is stored hashed).

    By default their other tokens are revoked and their console sessions end, as the
    API's rotation does (``POST /v1/users/{id}/tokens``); ``--keep`` leaves them.
    """
    from sandbox.access.auth import issue_token, revoke_tokens
    from sandbox.audit import chain as audit

    def issue(db: Database, session: Session) -> tuple[str, int, str]:
        found = _user(session, user)
        if not found.active:
            raise InvalidRequest("the user is deactivated: a token of theirs would not sign in")
        revoked = revoke_tokens(db, session, ACTOR, found.id) if revoke else 0
        token = issue_token(session, found, "cli")
        audit.append(db, session, ACTOR, "token.issue", f"user:{found.id}", role=found.role)
        return found.name, revoked, token

    try:
        name, revoked, token = _in_transaction(issue)
    except SandboxError as error:
        _fail(error)
    R.say(
        f"a new token for '{name}' ({revoked} earlier tokens revoked); it is shown once:",
        to_err=True,
    )
    typer.echo(token)


def register(admin_app: typer.Typer) -> None:
    """Add ``org``, ``user`` and ``token`` to ``sandbox admin``."""
    admin_app.add_typer(org_app, name="org")
    admin_app.add_typer(user_app, name="user")
    admin_app.add_typer(token_app, name="token")
