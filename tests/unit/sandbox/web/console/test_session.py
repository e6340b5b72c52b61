"""Console sessions in the database, on SQLite and PostgreSQL: shared by processes,
expiring, ended by sign-out, revocation and deactivation, storage bound."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from sandbox.access import auth
from sandbox.store.db import Database
from sandbox.store.models import ApiToken, User
from sandbox.store.models import ConsoleSession as SessionRow
from sandbox.web.console import session as session_module
from sandbox.web.console.session import IDLE, LIFETIME, TOUCH_S, SessionStore

#: A wall-clock time (2001-09-09) the tests' clocks start from.
T0 = 1e9


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, audit_key=b"k" * 32)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def other_db(db_url: str, db: Database) -> Iterator[Database]:
    """The same database as ``db`` through another engine: a second API process."""
    database = Database(db_url, audit_key=b"k" * 32)
    yield database
    database.dispose()


@pytest.fixture
def token_id(db: Database) -> int:
    return auth.live_token_id(db, auth.bootstrap(db))


@pytest.fixture
def now() -> list[float]:
    return [T0]


def _store(db: Database, now: list[float]) -> SessionStore:
    return SessionStore(db, clock=lambda: now[0])


def _rows(db: Database) -> list[SessionRow]:
    with db.session() as session:
        return list(session.scalars(select(SessionRow).order_by(SessionRow.created_at)))


def test_session_when_made_on_one_process_then_used_and_ended_on_another(
    db: Database, other_db: Database, token_id: int, now: list[float]
) -> None:
    first, second = _store(db, now), _store(other_db, now)
    made = first.create(token_id)
    found = second.get(made.id)
    assert found is not None
    session, who = found
    assert (session.csrf, session.token_id, who.name) == (made.csrf, token_id, "admin")
    (row,) = _rows(db)
    assert row.id_hash == hashlib.sha256(made.id.encode()).hexdigest()
    assert made.id not in (row.id_hash, row.csrf)  # the cookie's id is not stored
    second.drop(made.id)
    assert first.get(made.id) is None and _rows(db) == []


@pytest.mark.parametrize(
    "session_id",
    [
        None,  # no cookie
        "",  # an empty cookie
        "forged",  # an id no sign-in gave
    ],
)
def test_session_when_id_unknown_then_none(
    db: Database, token_id: int, now: list[float], session_id: str | None
) -> None:
    store = _store(db, now)
    store.create(token_id)
    assert store.get(session_id) is None
    store.drop(session_id)  # ignored
    assert len(_rows(db)) == 1


def test_session_when_idle_too_long_then_it_ends_and_its_row_goes(
    db: Database, token_id: int, now: list[float]
) -> None:
    store = _store(db, now)
    made = store.create(token_id)
    now[0] += IDLE + 1
    assert store.get(made.id) is None
    assert _rows(db) == []


def test_session_when_used_all_along_then_it_ends_after_its_lifetime(
    db: Database, token_id: int, now: list[float]
) -> None:
    store = _store(db, now)
    made = store.create(token_id)
    while now[0] + IDLE / 2 <= T0 + LIFETIME:
        now[0] += IDLE / 2
        assert store.get(made.id) is not None
    now[0] = T0 + LIFETIME + 1
    assert store.get(made.id) is None


def test_session_when_used_often_then_last_use_is_written_once_a_minute(
    db: Database, token_id: int, now: list[float]
) -> None:
    store = _store(db, now)
    made = store.create(token_id)
    now[0] += TOUCH_S / 2
    assert store.get(made.id) is not None
    assert _rows(db)[0].last_seen_at.timestamp() == T0  # no write yet
    now[0] += TOUCH_S / 2
    assert store.get(made.id) is not None
    assert _rows(db)[0].last_seen_at.timestamp() == T0 + TOUCH_S


@pytest.mark.parametrize("how", ["revoke", "deactivate"])
def test_session_when_token_revoked_or_user_deactivated_then_it_ends_on_every_process(
    db: Database, other_db: Database, token_id: int, now: list[float], how: str
) -> None:
    first, second = _store(db, now), _store(other_db, now)
    made = first.create(token_id)
    assert second.get(made.id) is not None
    with db.session() as session:
        user_id = session.get(ApiToken, token_id).user_id  # type: ignore[union-attr]
        if how == "revoke":
            auth.revoke_tokens(db, session, "test", user_id)
            assert session.scalars(select(SessionRow)).all() == []  # gone at once
        else:
            session.execute(update(User).where(User.id == user_id).values(active=False))
    assert first.get(made.id) is None and second.get(made.id) is None
    assert _rows(db) == []


def test_session_when_signing_in_again_then_the_old_id_ends(
    db: Database, token_id: int, now: list[float]
) -> None:
    store = _store(db, now)
    old = store.create(token_id)
    new = store.create(token_id, replacing=old.id)
    assert new.id != old.id and new.csrf != old.csrf
    assert store.get(old.id) is None and store.get(new.id) is not None


def test_session_when_sessions_expired_then_a_sign_in_removes_a_bounded_few(
    db: Database, token_id: int, now: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "PURGE_BATCH", 2)
    store = _store(db, now)
    for _ in range(5):
        store.create(token_id)
    now[0] += IDLE + 1
    fresh = store.create(token_id)
    assert len(_rows(db)) == 4  # five expired, two removed, one new
    store.create(token_id)
    store.create(token_id)
    assert len(_rows(db)) == 3  # the rest removed, three live
    assert store.get(fresh.id) is not None


def test_session_when_a_token_signs_in_often_then_its_oldest_sessions_end(
    db: Database, token_id: int, now: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "MAX_PER_TOKEN", 3)
    store = _store(db, now)
    made = []
    for _ in range(5):
        now[0] += 1
        made.append(store.create(token_id))
    assert [store.get(m.id) is not None for m in made] == [False, False, True, True, True]
    assert len(_rows(db)) == 3


def test_session_when_one_token_signs_in_at_once_on_two_processes_then_no_error(
    db: Database,
    other_db: Database,
    token_id: int,
    now: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_module, "MAX_PER_TOKEN", 3)
    stores = (_store(db, now), _store(other_db, now))
    for _ in range(4):
        stores[0].create(token_id)
    now[0] += IDLE + 1  # those four are expired: every sign-in below purges or trims
    errors: list[BaseException] = []
    made = []

    def sign_in(store: SessionStore) -> None:
        try:
            made.append(store.create(token_id))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=sign_in, args=(stores[i % 2],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(made) == 16
    live = [m for m in made if stores[1].get(m.id) is not None]
    assert 1 <= len(live) <= len(_rows(db))
