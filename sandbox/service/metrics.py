"""What Prometheus scrapes: figures read from the database when it asks.

:class:`SandboxCollector` builds every figure from durable rows at scrape time,
so every replica (``sandbox serve``, ``sandbox worker``) reports the same numbers
and a restart loses none; the result is kept a few seconds, so a burst of scrapes
costs the database one read.

Untimed kinds (custom code, :attr:`jobs.kinds.base.JobKind.untimed`, and kinds no
longer registered: the safe side) show an operator neither when a run started or
ended nor whether it failed (:func:`policies.views.job_view`,
:func:`policies.views.operator_sees_failure`), and an operator could scrape these
figures every few seconds. So:

- ``sandbox_jobs{kind,state}``: jobs by kind and state, every registered kind with
  every state it has, 0 included. A timed kind has every :class:`JobStatus`; an
  untimed kind has ``open`` (queued, running and awaiting review together: it changes
  only when a job is submitted, which the operator knows, and when a steward decides),
  ``released``, ``rejected``, ``returned`` and ``failed``.
- ``sandbox_queue_depth``, ``sandbox_queue_oldest_age_seconds``: queued jobs of timed
  kinds and how long the oldest has waited since submission (an untimed job leaving
  the queue is a run starting).
- ``sandbox_job_run_seconds{kind}``: a histogram of runs (``started_at`` to
  ``finished_at``) of *timed* kinds only. An untimed kind's run times (custom code,
  :attr:`jobs.kinds.base.JobKind.untimed`) never leave the database, not even
  summed, and neither do those of kinds no longer registered (the safe side). A job
  created with a re-issued answer (same start and end) had no run and is left out.
- ``sandbox_grant_epsilon_spent{grant}``, ``sandbox_grant_epsilon_total{grant}``: each
  live grant's composed ε spend (:func:`sandbox.access.ledger.spent_by_grant`) and cap.
- ``sandbox_checks_total{check,verdict}``: verdicts of the automatic checks of runs
  of timed kinds filed for review (an untimed run's failing ``run`` check is its
  failure, and its entry's time is when it ended).
- ``sandbox_sign_in_failures_total``, ``sandbox_sign_in_throttled_total``: refused
  tokens (API and console) and addresses that reached the sign-in limit.

The last two families count audit entries (``job.finish``'s ``checks`` detail,
``auth.failure``, ``auth.throttled``) rather than jobs' reports: the audit log is
append-only, so each scrape reads only the entries after the last one it counted
(one indexed range; the first scrape of a process reads them all), and a
``job.finish`` entry's details are a small name-to-verdict map where a report
may hold a whole risk report or file list.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, Float, case, cast, func, select
from sqlalchemy.orm import Session

from jobs.kinds import KINDS
from policies.airlock import JobStatus
from sandbox.access.ledger import spent_by_grant
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Job, utcnow

#: Upper bounds (seconds) of the run-time histogram's buckets: seconds to hours.
RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
#: Audit actions the counters read.
_COUNTED = ("job.finish", "auth.failure", "auth.throttled")
#: The one state an untimed kind's unfinished jobs are counted in.
OPEN = "open"


def timed_kinds() -> list[str]:
    """The registered kinds whose run times, queueing and failures may be shown."""
    return [kind.name for kind in KINDS if not kind.untimed]


def states_of(kind: str) -> list[str]:
    """The states ``sandbox_jobs`` shows for ``kind``: all for a timed kind; for an
    untimed one (or one no longer registered), :data:`OPEN` and the terminal states."""
    if kind in timed_kinds():
        return [state.value for state in JobStatus]
    return [OPEN, *(state.value for state in JobStatus if state.is_terminal())]


def _shown_state(kind: str, status: JobStatus, timed: list[str]) -> str:
    """The state a job of ``kind`` in ``status`` is counted in (``timed``: the timed kinds)."""
    return status.value if kind in timed or status.is_terminal() else OPEN


class SandboxCollector(Collector):
    """The sandbox's figures from the database, kept ``ttl_s`` seconds.

    Args:
        db: The metadata store.
        ttl_s: How long one read answers scrapes.
        clock: Monotonic seconds (tests).
    """

    def __init__(
        self, db: Database, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._families: list[Metric] = []
        # running tallies of the audit log up to entry ``_seq``
        self._seq = 0
        self._checks: Counter[tuple[str, str]] = Counter()
        self._actions: Counter[str] = Counter()

    def collect(self) -> Iterator[Metric]:
        """The figures (read again once ``ttl_s`` has passed).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: The database could not be read.
        """
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self.ttl_s:
                self._families = self._read()
                self._read_at = now
            families = list(self._families)
        yield from families

    def _read(self) -> list[Metric]:
        with self.db.session() as session:
            return [
                *self._jobs(session),
                self._durations(session),
                *self._budgets(session),
                *self._audited(session),
            ]

    def _jobs(self, session: Session) -> list[Metric]:
        jobs = GaugeMetricFamily(
            "sandbox_jobs",
            "Jobs by kind and state. Untimed kinds (custom code) show 'open' (queued, "
            "running and awaiting review together), released, rejected, returned and failed.",
            labels=["kind", "state"],
        )
        timed = timed_kinds()
        rows = session.execute(
            select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
        ).all()
        counts: Counter[tuple[str, str]] = Counter()
        for kind, status, count in rows:
            counts[(kind, _shown_state(kind, JobStatus(status), timed))] += count
        # every registered kind in each of its states (0 included: a rate or an alert needs
        # the series before its first job), and kinds no longer registered that have jobs
        kinds = sorted({*KINDS.names(), *(kind for kind, _ in counts)})
        for kind in kinds:
            for state in states_of(kind):
                jobs.add_metric([kind, state], counts[(kind, state)])
        depth, oldest = session.execute(
            select(func.count(), func.min(Job.created_at)).where(
                Job.status == JobStatus.QUEUED, Job.kind.in_(timed)
            )
        ).one()
        age = 0.0 if oldest is None else max(0.0, (utcnow() - _aware(oldest)).total_seconds())
        return [
            jobs,
            GaugeMetricFamily(
                "sandbox_queue_depth",
                "Jobs of timed kinds waiting for a worker (untimed kinds, e.g. custom code, "
                "never counted).",
                value=depth,
            ),
            GaugeMetricFamily(
                "sandbox_queue_oldest_age_seconds",
                "Seconds the oldest queued job of a timed kind has waited since submission "
                "(0: none queued; untimed kinds never counted).",
                value=age,
            ),
        ]

    def _durations(self, session: Session) -> Metric:
        family = HistogramMetricFamily(
            "sandbox_job_run_seconds",
            "Run times of jobs of timed kinds (untimed kinds, e.g. custom code, never appear).",
            labels=["kind"],
        )
        kinds = timed_kinds()
        seconds = _seconds_between(session, Job.started_at, Job.finished_at)
        buckets = [
            func.sum(case((seconds <= bound, 1), else_=0)).label(f"le{i}")
            for i, bound in enumerate(RUN_BUCKETS)
        ]
        rows = session.execute(
            select(Job.kind, func.count(), func.sum(seconds), *buckets)
            .where(
                Job.kind.in_(kinds),
                Job.started_at.is_not(None),
                Job.finished_at.is_not(None),
                Job.started_at != Job.finished_at,  # created with a re-issued answer: no run
            )
            .group_by(Job.kind)
            .order_by(Job.kind)
        ).all()
        for kind, count, total, *cumulative in rows:
            points = [
                (_bound(b), int(n or 0)) for b, n in zip(RUN_BUCKETS, cumulative, strict=True)
            ]
            family.add_metric([kind], [*points, ("+Inf", int(count))], float(total or 0.0))
        return family

    def _budgets(self, session: Session) -> list[Metric]:
        spent = GaugeMetricFamily(
            "sandbox_grant_epsilon_spent",
            "Composed ε the grant's own jobs spent on its most-used dataset this period "
            "(live grants with a charge).",
            labels=["grant"],
        )
        total = GaugeMetricFamily(
            "sandbox_grant_epsilon_total", "The grant's ε cap (same grants).", labels=["grant"]
        )
        for grant_id, (used, cap) in spent_by_grant(session).items():
            spent.add_metric([str(grant_id)], used)
            total.add_metric([str(grant_id)], cap)
        return [spent, total]

    def _audited(self, session: Session) -> list[Metric]:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.action, AuditEntry.subject, AuditEntry.details)
            .where(AuditEntry.action.in_(_COUNTED), AuditEntry.seq > self._seq)
            .order_by(AuditEntry.seq)
        ).all()
        timed = _timed_jobs(
            session, [_job_id(subject) for _, action, subject, _ in rows if action == "job.finish"]
        )
        # counted only once the read is whole (a failed read leaves the tallies as they were)
        checks: Counter[tuple[str, str]] = Counter()
        actions: Counter[str] = Counter()
        for _seq, action, subject, details in rows:
            actions[action] += 1
            if action == "job.finish" and _job_id(subject) in timed:
                checks.update(_verdicts(details))
        if rows:
            self._seq = rows[-1][0]
        self._checks.update(checks)
        self._actions.update(actions)
        verdicts = CounterMetricFamily(
            "sandbox_checks",
            "Automatic checks of runs of timed kinds filed for review, by check and verdict "
            "(untimed kinds, e.g. custom code, never counted).",
            labels=["check", "verdict"],
        )
        for (name, verdict), count in sorted(self._checks.items()):
            verdicts.add_metric([name, verdict], count)
        return [
            verdicts,
            CounterMetricFamily(
                "sandbox_sign_in_failures",
                "Refused sign-ins: missing, unknown or revoked tokens (API and console).",
                value=self._actions["auth.failure"],
            ),
            CounterMetricFamily(
                "sandbox_sign_in_throttled",
                "Times an address reached the sign-in failure limit.",
                value=self._actions["auth.throttled"],
            ),
        ]


def _job_id(subject: str) -> int | None:
    """The id in a ``job:<id>`` subject (``None`` for any other subject)."""
    prefix, _, rest = subject.partition(":")
    return int(rest) if prefix == "job" and rest.isascii() and rest.isdigit() else None


def _timed_jobs(session: Session, ids: list[int | None]) -> set[int]:
    """Those of ``ids`` that are jobs of timed kinds, in one query.

    It reads the timed jobs' ids between the smallest and the largest of ``ids`` (a
    range, not a list of bound values, so a first read of a long log stays one query).
    A job of an untimed kind, of a kind no longer registered or not found is left out.
    """
    known = [i for i in ids if i is not None]
    if not known:
        return set()
    found = session.scalars(
        select(Job.id).where(Job.id.between(min(known), max(known)), Job.kind.in_(timed_kinds()))
    )
    return set(found) & set(known)


def _verdicts(details: Any) -> list[tuple[str, str]]:
    """The (check, verdict) pairs of a ``job.finish`` entry's ``checks`` detail."""
    checks = details.get("checks") if isinstance(details, dict) else None
    if not isinstance(checks, dict):
        return []
    return [(str(name), str(verdict)) for name, verdict in checks.items()]


def _seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    """``end - start`` in seconds, in SQL (SQLite stores ISO text, PostgreSQL timestamps)."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(func.extract("epoch", end - start), Float)


def _bound(seconds: float) -> str:
    """A bucket's bound as the exposition format writes it (``1.0``)."""
    return repr(float(seconds))


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
