"""What admins do to users and tokens: issue one more token, revoke one, deactivate a user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from policies.errors import Conflict, InvalidRequest, NotFound, PolicyViolation, Unauthenticated
from policies.roles import OrgKind, Role
from sandbox.access import auth
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Organisation, User


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database("sqlite://", audit_key=b"k" * 32)
    database.migrate()
    auth.bootstrap(database)
    yield database
    database.dispose()


def _ids(db: Database) -> tuple[int, int]:
    """The admin's id and a new operator's."""
    with db.session() as session:
        firm = auth.create_org(db, session, "test", "firm", OrgKind.OPERATOR)
        user, _ = auth.create_user(db, session, "test", "analyst", Role.OPERATOR, firm.id)
        admin = session.scalars(select(User.id).where(User.name == "admin")).one()
        return admin, user.id


def _actions(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_issue_user_token_when_active_user_then_token_signs_in_and_is_audited(db: Database):
    _, user_id = _ids(db)
    with db.session() as session:
        _, token = auth.issue_user_token(db, session, "user:admin", user_id, " 笔记本 ")
    assert auth.authenticate(db, token).user_id == user_id
    assert _actions(db)[-1] == "token.issue"


def test_issue_user_token_when_operator_then_kept_when_steward_then_the_old_one_stops(
    db: Database,
):
    _, operator_id = _ids(db)
    with db.session() as session:
        bureau = auth.create_org(db, session, "test", "bureau", OrgKind.BUREAU)
        steward, first = auth.create_user(db, session, "test", "steward", Role.STEWARD, bureau.id)
        steward_id = steward.id
        _, analyst_first = auth.issue_user_token(db, session, "user:admin", operator_id, "a")
    with db.session() as session:
        auth.issue_user_token(db, session, "user:admin", operator_id, "notebook")
        _, second = auth.issue_user_token(db, session, "user:admin", steward_id, "laptop")
    # an operator keeps both; a steward's earlier token stops (no silent second credential)
    assert auth.authenticate(db, analyst_first).user_id == operator_id
    assert auth.authenticate(db, second).user_id == steward_id
    with pytest.raises(Unauthenticated):
        auth.authenticate(db, first)
    actions = _actions(db)
    assert actions[-3:-1] == ["token.revoke", "token.issue"]  # then the refused sign-in


@pytest.mark.parametrize(
    ("label", "error"),
    [
        ("", InvalidRequest),  # empty
        ("x" * 101, InvalidRequest),  # longer than the column
        ("lap\u200btop", InvalidRequest),  # a zero-width space
    ],
)
def test_issue_user_token_when_label_is_bad_then_refused(
    db: Database, label: str, error: type[Exception]
):
    _, user_id = _ids(db)
    with db.session() as session, pytest.raises(error):
        auth.issue_user_token(db, session, "user:admin", user_id, label)


def test_issue_user_token_when_user_unknown_or_deactivated_then_refused(db: Database):
    admin_id, user_id = _ids(db)
    with db.session() as session, pytest.raises(NotFound):
        auth.issue_user_token(db, session, "user:admin", 999, "laptop")
    with db.session() as session:
        auth.deactivate_user(db, session, "user:admin", user_id, by_user_id=admin_id)
    with db.session() as session, pytest.raises(Conflict):
        auth.issue_user_token(db, session, "user:admin", user_id, "laptop")


def test_revoke_token_when_live_then_it_stops_and_twice_is_a_conflict(db: Database):
    _, user_id = _ids(db)
    with db.session() as session:
        _, token = auth.issue_user_token(db, session, "user:admin", user_id, "laptop")
    token_id = auth.live_token_id(db, token)
    with db.session() as session:
        auth.revoke_token(db, session, "user:admin", token_id)
    with pytest.raises(auth.Unauthenticated):
        auth.authenticate(db, token)
    with db.session() as session, pytest.raises(Conflict):
        auth.revoke_token(db, session, "user:admin", token_id)
    with db.session() as session, pytest.raises(NotFound):
        auth.revoke_token(db, session, "user:admin", 999)
    assert _actions(db).count("token.revoke") == 1


def test_deactivate_user_when_done_then_every_token_stops_and_twice_is_a_conflict(db: Database):
    admin_id, user_id = _ids(db)
    with db.session() as session:
        _, token = auth.issue_user_token(db, session, "user:admin", user_id, "laptop")
        auth.deactivate_user(db, session, "user:admin", user_id, by_user_id=admin_id)
    with pytest.raises(auth.Unauthenticated):
        auth.authenticate(db, token)
    with db.session() as session, pytest.raises(Conflict):
        auth.deactivate_user(db, session, "user:admin", user_id, by_user_id=admin_id)
    assert _actions(db).count("user.deactivate") == 1


def test_deactivate_user_when_oneself_or_the_last_admin_then_refused(db: Database):
    admin_id, _ = _ids(db)
    with db.session() as session, pytest.raises(PolicyViolation, match="yourself"):
        auth.deactivate_user(db, session, "user:admin", admin_id, by_user_id=admin_id)
    with db.session() as session, pytest.raises(PolicyViolation, match="last active admin"):
        auth.deactivate_user(db, session, "system", admin_id, by_user_id=0)
    with db.session() as session:
        platform = session.scalars(select(Organisation.id).where(Organisation.kind == "platform"))
        second, _ = auth.create_user(db, session, "test", "admin2", Role.ADMIN, platform.one())
        auth.deactivate_user(db, session, "user:admin2", admin_id, by_user_id=second.id)
    with db.session() as session:
        assert not session.get(User, admin_id).active  # type: ignore[union-attr]
