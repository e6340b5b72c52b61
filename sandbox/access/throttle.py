"""Failed sign-ins per client address: a sliding window, then a wait.

API tokens are long random secrets, so guessing one is hopeless; the throttle
keeps a guesser from filling the audit chain with failures: past the limit,
failures are answered 429 and not audited (:func:`sandbox.web.deps.signed_in`),
while a valid token still signs in, so that one guesser behind a shared proxy
cannot lock everyone out. Only failures
count: users who sign in, however many at once from one address (an office
behind one NAT), are never slowed down. Once an address has failed, each of
its tries counts from the moment it starts until it succeeds, so concurrent
tries cannot slip past the limit together; only the very first burst of an
address without failures can (at most as many as the servers run at once).

The tries live in the database (:class:`sandbox.store.models.SignInFailure`:
an address and a time, never a token or a user name), so every API process on
it counts the same failures: a guesser spreading its tries over the processes
behind a load balancer meets one limit. The tries of one address are counted
and added one transaction at a time (an advisory lock per address on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serializes every writer). Rows older
than the window are deleted a few at each new row, and the table never keeps
more than about :data:`MAX_ROWS` (however many addresses a caller spreads its
guesses over).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from policies.errors import TooManyAttempts
from sandbox.store.db import Database
from sandbox.store.models import SignInFailure

#: Rows kept at most; the oldest are deleted first beyond it.
MAX_ROWS = 100_000
#: Old rows deleted at most with each new one.
PURGE_BATCH = 100
#: First key of the PostgreSQL advisory locks of addresses (the second is the address's
#: hash; two-key locks never meet the one-key locks of :mod:`sandbox.store.db`).
LOCK_SPACE = 0x5161
#: Longest address stored (the column's width; IPv6 text takes at most 45).
MAX_ADDRESS = 64


class SignInThrottle:
    """At most ``limit`` failed sign-ins per address within ``window_s`` seconds.

    Args:
        db: The metadata store the processes share.
        limit: Failed (or open) tries an address may have within the window.
        window_s: Length of the sliding window.
        clock: Seconds since the epoch (wall time: processes compare each other's
            stamps); tests pass their own.

    Example:
        >>> db = Database("sqlite://")
        >>> db.migrate()
        >>> now = [1e9]
        >>> throttle = SignInThrottle(db, limit=2, window_s=60, clock=lambda: now[0])
        >>> ok = throttle.begin("10.0.0.1")
        >>> throttle.succeeded("10.0.0.1", ok)  # a sign-in: nothing counted
        >>> for _ in range(2):
        ...     throttle.failed("10.0.0.1", throttle.begin("10.0.0.1"))
        >>> throttle.wait_s("10.0.0.1")
        60
        >>> now[0] += 61
        >>> throttle.wait_s("10.0.0.1")
        0
    """

    def __init__(
        self,
        db: Database,
        limit: int,
        window_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.limit = limit
        self.window_s = window_s
        self._clock = clock

    def wait_s(self, address: str) -> int:
        """Seconds ``address`` must wait before its next try (0: it may try now)."""
        with self.db.session() as session:
            return self._wait(session, address[:MAX_ADDRESS], self._now())

    def begin(self, address: str) -> int | None:
        """Start a try from ``address``; pass what it returns to :meth:`failed` or
        :meth:`succeeded`.

        An address with failures in the window has the try counted as failed now
        (until it succeeds); one without is counted only if it fails.

        Raises:
            TooManyAttempts: The address has ``limit`` failed or open tries within
                the window; this try is not counted.
        """
        address = address[:MAX_ADDRESS]
        with self.db.session() as session:
            if not self._count(session, address, self._now())[0]:
                return None  # no failures (the first burst): no lock, no write
            self._lock(session, address)
            now = self._now()
            count, oldest = self._count(session, address, now)
            wait = self._wait_of(count, oldest, now)
            if wait:
                raise TooManyAttempts(
                    f"too many failed sign-ins from this address; try again in {wait} s",
                    retry_after_s=wait,
                )
            return self._add(session, address, now) if count else None

    def failed(self, address: str, stamp: int | None) -> None:
        """Count the try that :meth:`begin` returned ``stamp`` for as failed."""
        if stamp is not None:
            return  # counted when it began
        address = address[:MAX_ADDRESS]
        with self.db.session() as session:
            self._lock(session, address)
            self._add(session, address, self._now())

    def succeeded(self, address: str, stamp: int | None) -> None:
        """Forget the try that :meth:`begin` returned ``stamp`` for: it signed in."""
        if stamp is None:
            return
        with self.db.session() as session:
            session.execute(
                delete(SignInFailure).where(
                    SignInFailure.id == stamp, SignInFailure.address == address[:MAX_ADDRESS]
                )
            )

    def reached(self, address: str) -> bool:
        """Whether ``address`` has now reached the limit (its next try must wait)."""
        return self.wait_s(address) > 0

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    def _lock(self, session: Session, address: str) -> None:
        """Serialize the tries of one address until the transaction ends."""
        if not self.db.is_sqlite:  # SQLite: BEGIN IMMEDIATE already holds the write lock
            session.execute(
                text("SELECT pg_advisory_xact_lock(:space, hashtext(:address))"),
                {"space": LOCK_SPACE, "address": address},
            )

    def _count(self, session: Session, address: str, now: dt.datetime) -> tuple[int, dt.datetime]:
        """How many tries ``address`` has within the window, and the oldest one's time."""
        since = now - dt.timedelta(seconds=self.window_s)
        count, oldest = session.execute(
            select(func.count(), func.min(SignInFailure.at)).where(
                SignInFailure.address == address, SignInFailure.at > since
            )
        ).one()
        return int(count), oldest or now

    def _wait(self, session: Session, address: str, now: dt.datetime) -> int:
        """Seconds ``address`` must wait (0: none)."""
        return self._wait_of(*self._count(session, address, now), now)

    def _wait_of(self, count: int, oldest: dt.datetime, now: dt.datetime) -> int:
        """Seconds to wait with ``count`` tries in the window, the oldest at ``oldest``."""
        if count < self.limit:
            return 0
        return max(1, math.ceil((oldest - now).total_seconds() + self.window_s))

    def _add(self, session: Session, address: str, now: dt.datetime) -> int:
        """Store a try and delete a few rows that are out of the window or too many."""
        row = SignInFailure(address=address, at=now)
        session.add(row)
        session.flush()
        stale = (
            select(SignInFailure.id)
            .where(
                or_(
                    SignInFailure.at <= now - dt.timedelta(seconds=self.window_s),
                    SignInFailure.id <= row.id - MAX_ROWS,
                )
            )
            .limit(PURGE_BATCH)
            .with_for_update(skip_locked=True)  # purges never wait on one another
        )
        ids = list(session.scalars(stale))
        if ids:
            session.execute(delete(SignInFailure).where(SignInFailure.id.in_(ids)))
        return row.id
