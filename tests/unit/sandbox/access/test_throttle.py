"""The sign-in throttle: failures only, concurrent tries of a failing address, memory bound."""

from __future__ import annotations

import threading

import pytest

from policies.errors import TooManyAttempts
from sandbox.access import throttle as throttle_module
from sandbox.access.throttle import SignInThrottle


def _fail(throttle: SignInThrottle, address: str) -> None:
    throttle.failed(address, throttle.begin(address))


def test_throttle_when_tries_succeed_then_never_counted() -> None:
    throttle = SignInThrottle(limit=3, window_s=60, clock=lambda: 0.0)
    for _ in range(100):
        throttle.succeeded("10.0.0.1", throttle.begin("10.0.0.1"))
    assert throttle.wait_s("10.0.0.1") == 0


def test_throttle_when_limit_failures_then_refused_until_the_oldest_leaves_the_window() -> None:
    now = [0.0]
    throttle = SignInThrottle(limit=3, window_s=60, clock=lambda: now[0])
    for t in (0.0, 10.0, 20.0):
        now[0] = t
        _fail(throttle, "10.0.0.1")
    with pytest.raises(TooManyAttempts) as refused:
        throttle.begin("10.0.0.1")
    assert refused.value.retry_after_s == 40
    assert throttle.wait_s("10.0.0.2") == 0  # other addresses are not affected
    now[0] = 60.5
    assert throttle.wait_s("10.0.0.1") == 0


def test_throttle_when_a_failing_address_tries_concurrently_then_open_tries_count() -> None:
    throttle = SignInThrottle(limit=3, window_s=60, clock=lambda: 0.0)
    _fail(throttle, "10.0.0.1")
    open_tries = [throttle.begin("10.0.0.1") for _ in range(2)]  # not finished yet
    with pytest.raises(TooManyAttempts):
        throttle.begin("10.0.0.1")
    for stamp in open_tries:
        throttle.succeeded("10.0.0.1", stamp)
    assert throttle.wait_s("10.0.0.1") == 0


def test_throttle_when_many_threads_of_a_failing_address_then_at_most_the_limit_pass() -> None:
    throttle = SignInThrottle(limit=10, window_s=60)
    _fail(throttle, "10.0.0.1")
    passed: list[float | None] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            stamp = throttle.begin("10.0.0.1")
        except TooManyAttempts:
            return
        with lock:
            passed.append(stamp)

    threads = [threading.Thread(target=attempt) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == 9  # the earlier failure and nine open tries make the limit


def test_throttle_when_many_addresses_then_memory_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(throttle_module, "MAX_ADDRESSES", 5)
    throttle = SignInThrottle(limit=1, window_s=60, clock=lambda: 0.0)
    for i in range(20):
        _fail(throttle, f"10.0.0.{i}")
    assert len(throttle._tries) == 5
    assert throttle.wait_s("10.0.0.19") > 0 and throttle.wait_s("10.0.0.0") == 0
