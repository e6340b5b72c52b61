"""SandboxCollector: durable figures from the store; of untimed kinds, never when a run
started or ended, nor whether it failed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from policies.airlock import JobStatus
from sandbox.audit import chain as audit
from sandbox.service.metrics import SandboxCollector
from sandbox.store.db import Database
from sandbox.store.models import Job, LedgerEntry
from tests.factories import seed_grant, seed_job

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, audit_key=b"k" * 32)
    database.migrate()
    yield database
    database.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def scrape(collector: SandboxCollector) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def charge(db: Database, grant_id: int, epsilon: float) -> None:
    with db.session() as session:
        session.add(
            LedgerEntry(
                grant_id=grant_id,
                dataset_id=1,
                epsilon=epsilon,
                rho=0.0,
                delta=0.0,
                conversion_delta=0.0,
            )
        )


@pytest.fixture
def seeded(db: Database) -> tuple[Database, int, int]:
    grant = seed_grant(db)
    expired = seed_grant(db, expires_in_days=-1)
    with db.session() as session:
        seed_job(session, grant, "aggregate", "queued", waited_s=100)
        seed_job(session, grant, "aggregate", "queued", waited_s=10)
        seed_job(session, grant, "aggregate", "running", waited_s=50)
        seed_job(session, grant, "aggregate", "awaiting_review", ran_s=3)
        seed_job(session, grant, "aggregate", "failed", ran_s=90, error="value 4711 broke it")
        seed_job(session, grant, "aggregate", "released", ran_s=0)  # a re-issued answer
        seed_job(session, grant, "custom", "awaiting_review", ran_s=42)  # job 7
        seed_job(session, grant, "custom", "failed", ran_s=7)
        seed_job(session, grant, "custom", "queued", waited_s=500)
        seed_job(session, grant, "custom", "running", waited_s=400)
        seed_job(session, grant, "retired", "running", waited_s=300)  # job 11: kind unregistered
        for checks in ({"small_cells": "pass", "noise": "warn"}, {"small_cells": "pass"}):
            audit.append(db, session, "system", "job.finish", "job:4", checks=checks)
        # an untimed run's failing `run` check is its failure, its entry's time when it ended
        audit.append(db, session, "system", "job.finish", "job:7", checks={"run": "fail"})
        for subject in ("job:11", "job:999"):  # a kind no longer registered, no such job
            audit.append(db, session, "system", "job.finish", subject, checks={"x": "fail"})
        for _ in range(2):
            audit.append(db, session, "anonymous", "auth.failure", "token", presented=True)
        audit.append(db, session, "anonymous", "auth.throttled", "address")
        audit.append(db, session, "user:a", "job.submit", "job:1")
    charge(db, grant, 0.5)
    charge(db, grant, 0.25)
    charge(db, expired, 1.0)
    return db, grant, expired


def test_collector_when_scraped_then_jobs_queue_and_audit_counts_come_from_the_store(
    seeded: tuple[Database, int, int],
) -> None:
    db, grant, expired = seeded
    samples = scrape(SandboxCollector(db))

    jobs = {k[1]: v for k, v in samples.items() if k[0] == "sandbox_jobs" and v}
    assert jobs == {
        (("kind", "aggregate"), ("state", "queued")): 2,
        (("kind", "aggregate"), ("state", "running")): 1,
        (("kind", "aggregate"), ("state", "awaiting_review")): 1,
        (("kind", "aggregate"), ("state", "failed")): 1,
        (("kind", "aggregate"), ("state", "released")): 1,
        # untimed: queued, running and awaiting review are one state
        (("kind", "custom"), ("state", "open")): 3,
        (("kind", "custom"), ("state", "failed")): 1,
        (("kind", "retired"), ("state", "open")): 1,
    }
    # the queue of timed kinds only: not the custom job that waited 500 s
    assert samples[("sandbox_queue_depth", ())] == 2
    assert 99 <= samples[("sandbox_queue_oldest_age_seconds", ())] < 160
    verdicts = {k[1]: v for k, v in samples.items() if k[0] == "sandbox_checks_total"}
    assert verdicts == {
        (("check", "small_cells"), ("verdict", "pass")): 2,
        (("check", "noise"), ("verdict", "warn")): 1,
    }
    assert samples[("sandbox_sign_in_failures_total", ())] == 2
    assert samples[("sandbox_sign_in_throttled_total", ())] == 1
    # the live grant's composed spend (0.5 + 0.25) and its cap; the expired grant not at all
    assert samples[("sandbox_grant_epsilon_spent", (("grant", str(grant)),))] == pytest.approx(0.75)
    assert samples[("sandbox_grant_epsilon_total", (("grant", str(grant)),))] == 3.0
    assert not any(dict(k[1]).get("grant") == str(expired) for k in samples)


def test_collector_when_runs_ended_then_only_timed_kinds_have_a_histogram(
    seeded: tuple[Database, int, int],
) -> None:
    db, _, _ = seeded
    samples = scrape(SandboxCollector(db))

    def sample(name: str, **labels: str) -> float:
        return samples[(f"sandbox_job_run_seconds_{name}", tuple(sorted(labels.items())))]

    # the 3 s and 90 s runs; not the re-issued answer (no run), not the running job
    assert sample("count", kind="aggregate") == 2
    assert sample("sum", kind="aggregate") == pytest.approx(93, abs=0.5)
    assert sample("bucket", kind="aggregate", le="1.0") == 0
    assert sample("bucket", kind="aggregate", le="5.0") == 1
    assert sample("bucket", kind="aggregate", le="60.0") == 1
    assert sample("bucket", kind="aggregate", le="120.0") == 2
    assert sample("bucket", kind="aggregate", le="+Inf") == 2
    # custom code is untimed: no bucket, no count, no sum, however summed
    assert not [k for k in samples if dict(k[1]).get("kind") == "custom" and "run" in k[0]]


def test_collector_when_scraped_again_then_cached_until_ttl_and_audit_read_incrementally(
    seeded: tuple[Database, int, int],
) -> None:
    db, _, _ = seeded
    clock = Clock()
    collector = SandboxCollector(db, ttl_s=5.0, clock=clock)
    assert scrape(collector)[("sandbox_sign_in_failures_total", ())] == 2
    with db.session() as session:
        audit.append(db, session, "anonymous", "auth.failure", "token", presented=False)
        audit.append(db, session, "system", "job.finish", "job:4", checks={"noise": "warn"})
        audit.append(db, session, "system", "job.finish", "job:7", checks={"run": "fail"})

    clock.now = 4.9  # a scrape storm: the cached figures
    assert scrape(collector)[("sandbox_sign_in_failures_total", ())] == 2
    clock.now = 5.0
    samples = scrape(collector)
    assert samples[("sandbox_sign_in_failures_total", ())] == 3
    assert samples[("sandbox_checks_total", (("check", "noise"), ("verdict", "warn")))] == 2
    assert not [k for k in samples if dict(k[1]).get("check") == "run"]
    # a fresh collector (another replica, a restart) reads the same totals from the log
    fresh = scrape(SandboxCollector(db))
    counters = [k for k in samples if k[0].endswith("_total")]
    assert {k: fresh[k] for k in counters} == {k: samples[k] for k in counters}


def test_collector_when_the_store_is_empty_then_zeros_and_no_run_times(db: Database) -> None:
    samples = scrape(SandboxCollector(db))
    assert samples[("sandbox_queue_depth", ())] == 0
    assert samples[("sandbox_queue_oldest_age_seconds", ())] == 0
    assert samples[("sandbox_sign_in_failures_total", ())] == 0
    assert not [k for k in samples if k[0].startswith("sandbox_job_run")]
    jobs = {k[1]: v for k, v in samples.items() if k[0] == "sandbox_jobs"}
    assert set(jobs.values()) == {0}
    states = {kind: {s for (_, k), (_, s) in jobs if k == kind} for kind in ("custom", "extract")}
    assert states["extract"] == {s.value for s in JobStatus}
    assert states["custom"] == {"open", "released", "rejected", "returned", "failed"}


@pytest.mark.parametrize("state", ["queued", "running", "awaiting_review"])
def test_collector_when_an_untimed_job_moves_before_a_decision_then_no_figure_changes(
    db: Database, state: str
) -> None:
    grant = seed_grant(db)
    with db.session() as session:
        job = seed_job(session, grant, "custom", "queued", waited_s=30)
    before = scrape(SandboxCollector(db))
    with db.session() as session:
        session.get(Job, job.id).status = state  # started, or filed for review
        if state == "awaiting_review":
            audit.append(
                db, session, "system", "job.finish", f"job:{job.id}", checks={"run": "fail"}
            )
    after = scrape(SandboxCollector(db))
    # the process' own figures aside, a scrape after the run reads as one before it
    assert {k: v for k, v in after.items() if k[0].startswith("sandbox_")} == {
        k: v for k, v in before.items() if k[0].startswith("sandbox_")
    }
    assert after[("sandbox_jobs", (("kind", "custom"), ("state", "open")))] == 1
