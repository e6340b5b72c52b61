"""The sign-in throttle on SQLite and PostgreSQL: failures only, concurrent tries of a
failing address, shared by processes, storage bound."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from policies.errors import TooManyAttempts
from sandbox.access import throttle as throttle_module
from sandbox.access.throttle import SignInThrottle
from sandbox.store.db import Database
from sandbox.store.models import SignInFailure

#: A wall-clock time (2001-09-09) the tests' clocks start from.
T0 = 1e9


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def other_db(db_url: str, db: Database) -> Iterator[Database]:
    """The same database as ``db`` through another engine: a second API process."""
    database = Database(db_url)
    yield database
    database.dispose()


def _fail(throttle: SignInThrottle, address: str) -> None:
    throttle.failed(address, throttle.begin(address))


def _rows(db: Database) -> list[tuple[str, float]]:
    with db.session() as session:
        return [
            (a, at.timestamp())
            for a, at in session.execute(
                select(SignInFailure.address, SignInFailure.at).order_by(SignInFailure.id)
            )
        ]


def test_throttle_when_tries_succeed_then_never_counted(db: Database) -> None:
    throttle = SignInThrottle(db, limit=3, window_s=60, clock=lambda: T0)
    for _ in range(20):
        throttle.succeeded("10.0.0.1", throttle.begin("10.0.0.1"))
    assert throttle.wait_s("10.0.0.1") == 0
    assert _rows(db) == []


def test_throttle_when_limit_failures_then_refused_until_the_oldest_leaves_the_window(
    db: Database,
) -> None:
    now = [T0]
    throttle = SignInThrottle(db, limit=3, window_s=60, clock=lambda: now[0])
    for t in (0.0, 10.0, 20.0):
        now[0] = T0 + t
        _fail(throttle, "10.0.0.1")
    assert throttle.reached("10.0.0.1")
    with pytest.raises(TooManyAttempts) as refused:
        throttle.begin("10.0.0.1")
    assert refused.value.retry_after_s == 40
    assert throttle.wait_s("10.0.0.2") == 0  # other addresses are not affected
    now[0] = T0 + 60.5
    assert throttle.wait_s("10.0.0.1") == 0 and not throttle.reached("10.0.0.1")
    # what the table keeps: an address and a time, nothing else
    assert _rows(db) == [("10.0.0.1", T0 + t) for t in (0.0, 10.0, 20.0)]


def test_throttle_when_a_failing_address_tries_concurrently_then_open_tries_count(
    db: Database,
) -> None:
    throttle = SignInThrottle(db, limit=3, window_s=60, clock=lambda: T0)
    _fail(throttle, "10.0.0.1")
    open_tries = [throttle.begin("10.0.0.1") for _ in range(2)]  # not finished yet
    assert None not in open_tries
    with pytest.raises(TooManyAttempts):
        throttle.begin("10.0.0.1")
    for stamp in open_tries:
        throttle.succeeded("10.0.0.1", stamp)
    assert throttle.wait_s("10.0.0.1") == 0
    assert len(_rows(db)) == 1  # the failure stays; the tries that signed in are gone


def test_throttle_when_many_threads_on_two_processes_then_at_most_the_limit_pass(
    db: Database, other_db: Database
) -> None:
    first = SignInThrottle(db, limit=10, window_s=60)
    second = SignInThrottle(other_db, limit=10, window_s=60)
    _fail(first, "10.0.0.1")
    passed: list[int | None] = []
    lock = threading.Lock()

    def attempt(throttle: SignInThrottle) -> None:
        try:
            stamp = throttle.begin("10.0.0.1")
        except TooManyAttempts:
            return
        with lock:
            passed.append(stamp)

    threads = [threading.Thread(target=attempt, args=((first, second)[i % 2],)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == 9  # the earlier failure and nine open tries make the limit
    assert None not in passed


def test_throttle_when_one_process_records_failures_then_the_other_refuses(
    db: Database, other_db: Database
) -> None:
    now = [T0]
    first = SignInThrottle(db, limit=2, window_s=60, clock=lambda: now[0])
    second = SignInThrottle(other_db, limit=2, window_s=60, clock=lambda: now[0])
    _fail(first, "10.0.0.1")
    _fail(second, "10.0.0.1")
    for throttle in (first, second):
        with pytest.raises(TooManyAttempts):
            throttle.begin("10.0.0.1")
    now[0] += 60
    second.succeeded("10.0.0.1", second.begin("10.0.0.1"))
    assert first.wait_s("10.0.0.1") == 0


def test_throttle_when_rows_leave_the_window_then_new_failures_delete_them(
    db: Database,
) -> None:
    now = [T0]
    throttle = SignInThrottle(db, limit=5, window_s=60, clock=lambda: now[0])
    for i in range(4):
        _fail(throttle, f"10.0.1.{i}")
    now[0] += 61
    _fail(throttle, "10.0.2.1")
    assert _rows(db) == [("10.0.2.1", now[0])]


def test_throttle_when_many_addresses_then_storage_stays_bounded(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle_module, "MAX_ROWS", 5)
    throttle = SignInThrottle(db, limit=1, window_s=60, clock=lambda: T0)
    for i in range(20):
        _fail(throttle, f"10.0.0.{i}")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SignInFailure)) == 5
    assert throttle.wait_s("10.0.0.19") > 0 and throttle.wait_s("10.0.0.0") == 0


def test_throttle_when_an_address_is_too_long_then_it_is_cut_to_the_column(
    db: Database,
) -> None:
    throttle = SignInThrottle(db, limit=1, window_s=60, clock=lambda: T0)
    long = "x" * 100
    _fail(throttle, long)
    assert throttle.wait_s(long) == 60
    assert _rows(db) == [("x" * 64, T0)]
