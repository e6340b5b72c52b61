"""SandboxCollector: durable figures from the store, untimed kinds' run times never."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sandbox.audit import chain as audit
from sandbox.service.metrics import SandboxCollector
from sandbox.store.db import Database
from sandbox.store.models import LedgerEntry
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
        seed_job(session, grant, "custom", "awaiting_review", ran_s=42)
        seed_job(session, grant, "custom", "failed", ran_s=7)
        for checks in ({"small_cells": "pass", "run": "fail"}, {"small_cells": "pass"}):
            audit.append(db, session, "system", "job.finish", "job:4", checks=checks)
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
        (("kind", "custom"), ("state", "awaiting_review")): 1,
        (("kind", "custom"), ("state", "failed")): 1,
    }
    assert samples[("sandbox_queue_depth", ())] == 2
    assert 99 <= samples[("sandbox_queue_oldest_age_seconds", ())] < 160
    assert samples[("sandbox_checks_total", (("check", "small_cells"), ("verdict", "pass")))] == 2
    assert samples[("sandbox_checks_total", (("check", "run"), ("verdict", "fail")))] == 1
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
        audit.append(db, session, "system", "job.finish", "job:4", checks={"run": "fail"})

    clock.now = 4.9  # a scrape storm: the cached figures
    assert scrape(collector)[("sandbox_sign_in_failures_total", ())] == 2
    clock.now = 5.0
    samples = scrape(collector)
    assert samples[("sandbox_sign_in_failures_total", ())] == 3
    assert samples[("sandbox_checks_total", (("check", "run"), ("verdict", "fail")))] == 2
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
    assert (("kind", "custom"), ("state", "queued")) in jobs
    assert (("kind", "extract"), ("state", "released")) in jobs
