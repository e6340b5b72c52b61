"""Console sessions: a token exchanged for a server-side session and a CSRF secret.

The browser holds only a random session id in an ``HttpOnly``,
``SameSite=Strict`` cookie (``Secure`` over HTTPS); the API token it was
exchanged for stays in the server's memory and is checked again on every
request, so revoking the token or deactivating the user ends the session.
Sessions expire after :data:`IDLE` without use and :data:`LIFETIME` in all.

Each session carries a CSRF secret that every form posts back (the
synchronizer-token pattern of the OWASP CSRF cheat sheet); the login form,
which has no session yet, uses a double-submit cookie instead.

Sessions live in memory: one API process serves one database (see the
README), and a restart signs everybody out, which is the safe direction.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from fastapi import Request, Response

COOKIE = "sbx_console"
#: Double-submit cookie of the login form.
LOGIN_COOKIE = "sbx_console_login"
PATH = "/console"
#: A session ends this long after sign-in, however busy.
LIFETIME = 8 * 3600.0
#: A session ends after this long without a request.
IDLE = 30 * 60.0
#: Sessions one process keeps; the oldest go first beyond it.
MAX_SESSIONS = 10_000


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """One signed-in browser."""

    id: str
    token: str = field(repr=False)
    csrf: str = field(repr=False)
    created: float
    last_seen: float


class SessionStore:
    """Sessions of one app, thread-safe (FastAPI runs sync handlers in a thread pool).

    Args:
        clock: Seconds, monotonic; tests pass their own.
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        self._sessions: dict[str, ConsoleSession] = {}
        self._lock = threading.Lock()

    def create(self, token: str) -> ConsoleSession:
        """A new session for a verified API token."""
        now = self._clock()
        session = ConsoleSession(
            secrets.token_urlsafe(32), token, secrets.token_urlsafe(32), now, now
        )
        with self._lock:
            self._purge(now)
            while len(self._sessions) >= MAX_SESSIONS:
                self._sessions.pop(next(iter(self._sessions)))
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> ConsoleSession | None:
        """The live session with this id (touched), or None."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                return None
            if now - found.created > LIFETIME or now - found.last_seen > IDLE:
                del self._sessions[session_id]
                return None
            found = replace(found, last_seen=now)
            self._sessions[session_id] = found
            return found

    def drop(self, session_id: str | None) -> None:
        """End a session (sign-out); unknown ids are ignored."""
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)

    def _purge(self, now: float) -> None:
        expired = [
            k
            for k, s in self._sessions.items()
            if now - s.created > LIFETIME or now - s.last_seen > IDLE
        ]
        for k in expired:
            del self._sessions[k]


_STORE_LOCK = threading.Lock()


def store(request: Request) -> SessionStore:
    """The app's session store, made on first use."""
    state = request.app.state
    with _STORE_LOCK:
        found: SessionStore | None = getattr(state, "console_sessions", None)
        if found is None:
            found = SessionStore()
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
