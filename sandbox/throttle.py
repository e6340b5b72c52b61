"""Failed sign-ins per client address: a sliding window, then a wait.

API tokens are long random secrets, so guessing one is hopeless; the throttle
keeps a guesser from filling the audit chain with failures and from loading
the token table, and slows any guess to a few per window. It counts failures
only (a signed-in user is never slowed down) and lives in the API process,
as the console's sessions do (one API process per database).
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
        >>> throttle.failed("10.0.0.1"), throttle.failed("10.0.0.1")
        (False, True)
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
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, address: str) -> int:
        """Seconds ``address`` must wait before its next try (0: it may try now)."""
        with self._lock:
            now = self._clock()
            recent = self._recent(address, now)
            if recent is None or len(recent) < self.limit:
                return 0
            return max(1, math.ceil(recent[0] + self.window_s - now))

    def check(self, address: str) -> None:
        """Refuse ``address`` while it must wait.

        Raises:
            TooManyAttempts: It made ``limit`` failed sign-ins within the window.
        """
        wait = self.wait_s(address)
        if wait:
            raise TooManyAttempts(
                f"too many failed sign-ins from this address; try again in {wait} s",
                retry_after_s=wait,
            )

    def failed(self, address: str) -> bool:
        """Count a failed sign-in; True when it is the one that makes ``address`` wait."""
        with self._lock:
            now = self._clock()
            recent = self._recent(address, now)
            if recent is None:
                if len(self._failures) >= MAX_ADDRESSES:
                    del self._failures[next(iter(self._failures))]
                recent = self._failures[address] = deque()
            recent.append(now)
            return len(recent) == self.limit

    def _recent(self, address: str, now: float) -> deque[float] | None:
        """The address's failures within the window (older ones dropped), if any."""
        recent = self._failures.get(address)
        if recent is None:
            return None
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        if not recent:
            del self._failures[address]
            return None
        return recent
