"""Console sessions: a token exchanged for a server-side session and a CSRF secret.

The browser holds only a random session id in an ``HttpOnly``,
``SameSite=Strict`` cookie (``Secure`` over HTTPS). The database keeps the
SHA-256 of that id (a stolen backup names no live cookie), the row of the API
token it was exchanged for (never the token), the CSRF secret and two times
(:class:`sandbox.store.models.ConsoleSession`). Every API process on the
database shares them: a browser signed in through one process is served by
any other behind the same load balancer, and signing out on one ends the
session on all. On every request the token's row is checked again, so
revoking the token or deactivating the user ends the session everywhere.
Sessions expire after :data:`IDLE` without use and :data:`LIFETIME` in all;
the time of last use is written at most every :data:`TOUCH_S` seconds (not a
write per request), and expired rows are removed a few at a time at each
sign-in.

Each session carries a CSRF secret that every form posts back (the
synchronizer-token pattern of the OWASP CSRF cheat sheet); the login form,
which has no session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request, Response
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from sandbox.access.auth import Principal, token_principal
from sandbox.store.db import Database
from sandbox.store.models import ConsoleSession as SessionRow

COOKIE = "sbx_console"
#: Double-submit cookie of the login form.
LOGIN_COOKIE = "sbx_console_login"
PATH = "/console"
#: A session ends this long after sign-in, however busy.
LIFETIME = 8 * 3600.0
#: A session ends after this long without a request (give or take :data:`TOUCH_S`).
IDLE = 30 * 60.0
#: The time of last use is written when it is older than this (a write per minute, not
#: per request).
TOUCH_S = 60.0
#: Sessions one token may hold; its oldest end first beyond it (storage stays bounded
#: however often a token signs in).
MAX_PER_TOKEN = 20
#: Expired sessions removed at most at one sign-in.
PURGE_BATCH = 100


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """One signed-in browser."""

    id: str = field(repr=False)
    token_id: int
    csrf: str = field(repr=False)
    created: dt.datetime
    last_seen: dt.datetime


def _hash(session_id: str) -> str:
    """What the database keeps of a session id."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """The console's sessions in the database, shared by every API process on it.

    Args:
        db: The metadata store.
        clock: Seconds since the epoch (wall time: processes compare each other's
            stamps); tests pass their own.

    Example:
        >>> db = Database("sqlite://", audit_key=b"k" * 32)
        >>> db.migrate()
        >>> from sandbox.access.auth import bootstrap, live_token_id
        >>> token_id = live_token_id(db, bootstrap(db))
        >>> sessions = SessionStore(db)
        >>> made = sessions.create(token_id)
        >>> found, who = sessions.get(made.id)
        >>> (found.csrf == made.csrf, who.name)
        (True, 'admin')
        >>> sessions.drop(made.id)
        >>> sessions.get(made.id) is None
        True
    """

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    def create(self, token_id: int, replacing: str | None = None) -> ConsoleSession:
        """A new session, with a fresh id, for a verified token's row.

        Args:
            token_id: The :class:`~sandbox.store.models.ApiToken` row signed in with.
            replacing: The id the browser held before, if any: that session ends (a
                fresh id at every sign-in, so no id planted before it is ever signed in).
        """
        now = self._now()
        session = ConsoleSession(
            secrets.token_urlsafe(32), token_id, secrets.token_urlsafe(32), now, now
        )
        with self._db.session() as db_session:
            if replacing:
                db_session.execute(delete(SessionRow).where(SessionRow.id_hash == _hash(replacing)))
            _purge(db_session, now)
            _keep_newest(db_session, token_id, MAX_PER_TOKEN - 1)
            db_session.add(
                SessionRow(
                    id_hash=_hash(session.id),
                    token_id=token_id,
                    csrf=session.csrf,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return session

    def get(self, session_id: str | None) -> tuple[ConsoleSession, Principal] | None:
        """The live session with this id and the caller its token stands for, or None.

        A session past :data:`LIFETIME` or :data:`IDLE`, or whose token was revoked or
        whose user was deactivated, is removed and None returned.
        """
        if not session_id:
            return None
        now = self._now()
        digest = _hash(session_id)
        with self._db.session() as db_session:
            row = db_session.get(SessionRow, digest)
            if row is None:
                return None
            who = None if _expired(row, now) else token_principal(db_session, row.token_id)
            if who is None:
                db_session.execute(delete(SessionRow).where(SessionRow.id_hash == digest))
                return None
            if (now - row.last_seen_at).total_seconds() >= TOUCH_S:
                db_session.execute(
                    update(SessionRow)
                    .where(SessionRow.id_hash == digest, SessionRow.last_seen_at < now)
                    .values(last_seen_at=now)
                )
            return ConsoleSession(session_id, row.token_id, row.csrf, row.created_at, now), who

    def drop(self, session_id: str | None) -> None:
        """End a session (sign-out) on every process; unknown ids are ignored."""
        if session_id:
            with self._db.session() as db_session:
                db_session.execute(
                    delete(SessionRow).where(SessionRow.id_hash == _hash(session_id))
                )


def _expired(row: SessionRow, now: dt.datetime) -> bool:
    return (now - row.created_at).total_seconds() > LIFETIME or (
        now - row.last_seen_at
    ).total_seconds() > IDLE


def _purge(db_session: Session, now: dt.datetime) -> None:
    """Remove up to :data:`PURGE_BATCH` expired sessions."""
    stale = (
        select(SessionRow.id_hash)
        .where(
            or_(
                SessionRow.created_at < now - dt.timedelta(seconds=LIFETIME),
                SessionRow.last_seen_at < now - dt.timedelta(seconds=IDLE),
            )
        )
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)  # concurrent sign-ins never wait on one another
    )
    hashes = list(db_session.scalars(stale))
    if hashes:
        db_session.execute(delete(SessionRow).where(SessionRow.id_hash.in_(hashes)))


def _keep_newest(db_session: Session, token_id: int, keep: int) -> None:
    """End a token's sessions but its ``keep`` newest."""
    older = (
        select(SessionRow.id_hash)
        .where(SessionRow.token_id == token_id)
        .order_by(SessionRow.created_at.desc(), SessionRow.id_hash)
        .offset(keep)
        .with_for_update(skip_locked=True)
    )
    hashes = list(db_session.scalars(older))
    if hashes:
        db_session.execute(delete(SessionRow).where(SessionRow.id_hash.in_(hashes)))


_STORE_LOCK = threading.Lock()


def store(request: Request) -> SessionStore:
    """The app's session store (on the service's database), made on first use."""
    state = request.app.state
    with _STORE_LOCK:
        found: SessionStore | None = getattr(state, "console_sessions", None)
        if found is None:
            found = SessionStore(state.sandbox.db)
            state.console_sessions = found
    return found


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a posted CSRF token with the expected one."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """Set a console cookie: HttpOnly, SameSite=Strict, Secure over HTTPS, path /console."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    """Expire a console cookie."""
    response.delete_cookie(
        name,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
