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
address without failures can (at most as many as the server runs at once).
It lives in the API process, as the console's sessions do (one API process
per database).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from policies.errors import TooManyAttempts

#: Addresses remembered at most; the oldest are forgotten first (memory stays bounded
#: whatever the number of addresses a caller spreads its guesses over).
MAX_ADDRESSES = 100_000


class SignInThrottle:
    """At most ``limit`` failed sign-ins per address within ``window_s`` seconds.

    Example:
        >>> now = [0.0]
        >>> throttle = SignInThrottle(limit=2, window_s=60, clock=lambda: now[0])
        >>> ok = throttle.begin("10.0.0.1")
        >>> throttle.succeeded("10.0.0.1", ok)  # a sign-in: nothing counted
        >>> for _ in range(2):
        ...     throttle.failed("10.0.0.1", throttle.begin("10.0.0.1"))
        >>> throttle.wait_s("10.0.0.1")
        60
        >>> now[0] = 61.0
        >>> throttle.wait_s("10.0.0.1")
        0
    """

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._tries: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, address: str) -> int:
        """Seconds ``address`` must wait before its next try (0: it may try now)."""
        with self._lock:
            return self._wait(address, self._clock())

    def begin(self, address: str) -> float | None:
        """Start a try from ``address``; pass what it returns to :meth:`failed` or
        :meth:`succeeded`.

        An address with failures in the window has the try counted as failed now
        (until it succeeds); one without is counted only if it fails.

        Raises:
            TooManyAttempts: The address has ``limit`` failed or open tries within
                the window; this try is not counted.
        """
        with self._lock:
            now = self._clock()
            wait = self._wait(address, now)
            if wait:
                raise TooManyAttempts(
                    f"too many failed sign-ins from this address; try again in {wait} s",
                    retry_after_s=wait,
                )
            tries = self._tries.get(address)
            if tries is None:
                return None
            tries.append(now)
            return now

    def failed(self, address: str, stamp: float | None) -> None:
        """Count the try that :meth:`begin` returned ``stamp`` for as failed."""
        if stamp is not None:
            return  # counted when it began
        with self._lock:
            tries = self._tries.get(address)
            if tries is None:
                if len(self._tries) >= MAX_ADDRESSES:
                    del self._tries[next(iter(self._tries))]
                tries = self._tries[address] = deque()
            tries.append(self._clock())

    def succeeded(self, address: str, stamp: float | None) -> None:
        """Forget the try that :meth:`begin` returned ``stamp`` for: it signed in."""
        if stamp is None:
            return
        with self._lock:
            tries = self._tries.get(address)
            if tries is not None and stamp in tries:
                tries.remove(stamp)
                if not tries:
                    del self._tries[address]

    def reached(self, address: str) -> bool:
        """Whether ``address`` has now reached the limit (its next try must wait)."""
        with self._lock:
            return self._wait(address, self._clock()) > 0

    def _wait(self, address: str, now: float) -> int:
        """Seconds to wait (0: none), dropping tries older than the window; under the lock."""
        tries = self._tries.get(address)
        if tries is None:
            return 0
        while tries and tries[0] <= now - self.window_s:
            tries.popleft()
        if not tries:
            del self._tries[address]
            return 0
        if len(tries) < self.limit:
            return 0
        return max(1, math.ceil(tries[0] + self.window_s - now))
