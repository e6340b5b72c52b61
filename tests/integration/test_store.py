"""Metadata store, audit chain and ledger on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
import zipfile
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, update

from jobs.errors import RunnerStopped
from jobs.runner import Outcome, Task, execute, sha256_file
from policies.budget import PrivacyBudget
from policies.catalog import ColumnTag, Grade, OpenAttribute
from policies.errors import BudgetExhausted, Conflict
from policies.grants import GrantState
from policies.roles import OrgKind, Role
from sandbox.access import auth, grants
from sandbox.access.auth import Principal
from sandbox.audit import chain as audit
from sandbox.audit.verify import verify as verify_chain
from sandbox.catalog import datasets as catalog
from sandbox.jobs.service import JobService
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Base, Grant, Job, User
from tests.factories import PUBLIC_KEYS, TAGS, aggregate_spec, residents

#: The deployment secret of these tests' stores (the audit MAC key derives from it).
SECRET = b"a test deployment secret of 32+ characters"


class InProcessRunner:
    """Runs tasks with the real executor, without Ray; records what it ran."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.ran: list[int] = []
        self._lock = threading.Lock()

    def run(self, task: Task) -> Outcome:
        with self._lock:
            self.ran.append(task.job_id)
        if self.fail:
            raise MemoryError("worker died")  # a crash, not a SandboxError
        return execute(task)


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url, audit_key=audit.mac_key(SECRET))
    database.migrate()
    yield database
    database.dispose()


def _world(
    db: Database, tmp_path: Path, epsilon: float, kinds: tuple[str, ...] = ("aggregate",)
) -> tuple[Settings, Principal, int]:
    settings = Settings(data_dir=tmp_path / "data", database_url=db.url)
    with db.session() as s:
        bureau = auth.create_org(db, s, "test", "bureau", OrgKind.BUREAU)
        firm = auth.create_org(db, s, "test", "firm", OrgKind.OPERATOR)
        steward, _ = auth.create_user(db, s, "test", "steward", Role.STEWARD, bureau.id)
        analyst, _ = auth.create_user(db, s, "test", "analyst", Role.OPERATOR, firm.id)
        steward_id, analyst_id, firm_id = steward.id, analyst.id, firm.id
    upload = tmp_path / "residents.parquet"
    residents().write_parquet(upload)
    catalog.ingest(
        db,
        settings,
        "test",
        steward_id,
        upload,
        catalog.IngestRequest(
            name="residents",
            source="test",
            open_attribute=OpenAttribute.UNCONDITIONAL,
            grade=Grade.GENERAL,
            tags={k: ColumnTag(v) for k, v in TAGS.items()},
            privacy_unit="resident_id",
            public_keys=PUBLIC_KEYS,
        ),
    )
    with db.session() as s:
        grant = grants.create(
            db,
            s,
            "test",
            steward_id,
            org_id=firm_id,
            datasets=["residents"],
            purpose="",
            kinds=list(kinds),
            budget=PrivacyBudget(epsilon),
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            commitment_required=False,
        )
        grant_id = grant.id
    who = Principal(analyst_id, "analyst", Role.OPERATOR, firm_id, "firm")
    return settings, who, grant_id


def test_migrations_when_applied_then_match_the_models(db: Database):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    db.migrate()  # idempotent


def _alembic(db: Database, step: str, revision: str) -> None:
    """Run ``alembic <step> <revision>`` on ``db`` as :meth:`Database.migrate` does.

    SQLite drops a column by copying the table, which its foreign keys would refuse while
    other tables point to it: they are off for the step (outside any transaction).
    """
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("sandbox") / "store" / "migrations")
    )
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        if db.is_sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                getattr(command, step)(config, revision)
        finally:
            if db.is_sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


def test_migrations_when_dataset_predates_the_null_unit_count_then_it_reads_not_counted(
    db: Database, tmp_path: Path
):
    from sandbox.web.api.schemas import DatasetPublic

    _ingest(db, tmp_path, TAGS, privacy_unit="resident_id")
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("sandbox") / "store" / "migrations")
    )
    counted = next(  # the migration that added the count, wherever it sits in the chain
        r
        for r in ScriptDirectory.from_config(config).walk_revisions()
        if r.path.endswith("_null_units.py")
    )
    assert isinstance(counted.down_revision, str)
    _alembic(db, "downgrade", counted.down_revision)  # back to before the count existed
    _alembic(db, "upgrade", "head")
    with db.session() as s:
        dataset = catalog.get(s, "residents")
        assert dataset.null_unit_rows is None  # not counted, no made-up 0
        view = DatasetPublic.of(dataset, with_evidence=True, exact=True, digest="")
        assert view.null_unit_rows is None


def test_audit_when_appended_then_chain_verifies_and_edits_are_located(db: Database):
    with db.session() as s:
        for i in range(12):
            audit.append(db, s, "user:a", "test.event", f"thing:{i}", n=i, city="南京市")
    with db.session() as s:
        result = verify_chain(s, SECRET)
    assert result.ok and result.entries == 12
    with db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(details={"n": 99}))
    with db.session() as s:
        broken = verify_chain(s, SECRET)
    assert (broken.ok, broken.broken_at, broken.entries) == (False, 7, 6)


def test_audit_when_an_entry_is_deleted_then_verify_names_the_gap(db: Database):
    with db.session() as s:
        for i in range(5):
            audit.append(db, s, "user:a", "test.event", f"thing:{i}")
    with db.session() as s:
        s.delete(s.get(AuditEntry, 3))
    with db.session() as s:
        broken = verify_chain(s, SECRET)
    assert (broken.ok, broken.broken_at) == (False, 3)


def test_audit_when_appended_from_many_threads_then_chain_stays_linear(db: Database):
    def work(i: int) -> None:
        for j in range(5):
            with db.session() as s:
                audit.append(db, s, f"user:{i}", "test.event", f"thing:{j}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.session() as s:
        result = verify_chain(s, SECRET)
    assert result.ok and result.entries == 40


@pytest.mark.slow
def test_ledger_when_50_concurrent_submissions_exceed_budget_then_never_overspends(
    db: Database, tmp_path: Path
):
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0)
    runner = InProcessRunner()
    service = JobService(db, settings, runner, workers=2)
    barrier = threading.Barrier(50)
    accepted: list[int] = []
    refused: list[BaseException] = []
    lock = threading.Lock()

    def submit(i: int) -> None:
        barrier.wait()
        try:
            # distinct queries: an identical one would be a cache hit at no cost
            spec = aggregate_spec(epsilon=0.1, filters=[{"column": "age", "op": "ge", "value": i}])
            job = service.submit(who, grant_id, spec)
            with lock:
                accepted.append(job.id)
        except BudgetExhausted as err:
            with lock:
                refused.append(err)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(50)]  # 50 × 0.1 = 5 > 1
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    service.shutdown(wait=True)
    assert len(accepted) == 10 and len(refused) == 40
    with db.session() as s:
        grant = s.get(Grant, grant_id)
        assert grant is not None
        assert grant.epsilon_spent == grant.epsilon_total == PrivacyBudget(1.0).units[0]
        jobs = s.scalars(select(Job)).all()
        assert sorted(j.id for j in jobs) == sorted(accepted)
        assert sum(j.epsilon for j in jobs) == grant.epsilon_spent
    assert sorted(runner.ran) == sorted(accepted)


def test_ledger_when_job_crashes_after_reservation_then_budget_stays_spent(
    db: Database, tmp_path: Path
):
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0)
    service = JobService(db, settings, InProcessRunner(fail=True), workers=1)
    job = service.submit(who, grant_id, aggregate_spec(epsilon=0.4))
    service.shutdown(wait=True)
    with db.session() as s:
        row = s.get(Job, job.id)
        grant = s.get(Grant, grant_id)
        assert row is not None and grant is not None
        assert row.status == "failed"
        assert "worker died" not in row.error
        assert grant.epsilon_spent == PrivacyBudget(0.4).units[0]


def test_queue_when_a_worker_stops_renewing_then_another_runs_the_job_once_charged_once(
    db: Database, tmp_path: Path
):
    """A worker that dies mid-run (here: stops renewing its lease) loses the job: another
    worker runs it again from the start, under the charge it holds; the first worker's
    late end changes nothing."""
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0)
    settings = settings.model_copy(update={"lease_s": 1.0, "poll_s": 0.05})
    blocked, running = threading.Event(), threading.Event()

    class Stuck(InProcessRunner):
        def run(self, task: Task) -> Outcome:
            running.set()
            blocked.wait(30)
            raise MemoryError("ends after another worker took the job")

    first = JobService(db, settings, Stuck(), workers=1, untimed_workers=0)
    job = first.submit(who, grant_id, aggregate_spec(epsilon=0.3))
    assert running.wait(10)
    first.executor.leases.close()  # as a killed process: nobody renews its lease
    time.sleep(1.2)
    second_runner = InProcessRunner()
    second = JobService(db, settings, second_runner, workers=1, untimed_workers=0)
    assert second.recover() == 1
    second.shutdown(wait=True)
    blocked.set()
    first.shutdown(wait=True)
    with db.session() as s:
        row = s.get(Job, job.id)
        grant = s.get(Grant, grant_id)
        assert row is not None and grant is not None
        assert (row.status, row.attempt, row.lease_owner) == ("awaiting_review", 2, None)
        assert Path(row.output_path).name == f"job-{job.id}-a2.parquet"
        assert grant.epsilon_spent == PrivacyBudget(0.3).units[0]
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.subject == f"job:{job.id}")
        ).all()
    assert actions == ["job.submit", "job.run", "job.requeue", "job.run", "job.finish"]
    assert second_runner.ran == [job.id]
    assert sorted(p.name for p in settings.quarantine_dir.glob(f"job-{job.id}*")) == [
        f"job-{job.id}-a2.parquet"
    ]


def test_queue_when_a_job_lost_its_worker_too_often_then_it_fails_charged(
    db: Database, tmp_path: Path
):
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0)
    settings = settings.model_copy(update={"max_attempts": 2})
    service = JobService(db, settings, InProcessRunner(), workers=0, untimed_workers=0)
    job = service.submit(who, grant_id, aggregate_spec(epsilon=0.2))

    def dies_running(attempt: int) -> None:  # a worker claims it, then dies
        with db.session() as s:
            s.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(
                    status="running",
                    attempt=attempt,
                    lease_owner="gone:1:x",
                    lease_expires_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                )
            )

    dies_running(1)
    assert service.recover() == 1
    with db.session() as s:
        assert s.get(Job, job.id).status == "queued"  # once: it runs again
    # a drain's hand-back is no lost worker: it does not count
    with db.session() as s:
        audit.append(db, s, "system", "job.handback", f"job:{job.id}", reason="worker stopped")
    dies_running(3)
    assert service.recover() == 1
    with db.session() as s:
        row = s.get(Job, job.id)
        grant = s.get(Grant, grant_id)
        assert row is not None and grant is not None
        assert row.status == "failed" and "stopped 2 times" in row.error
        assert grant.epsilon_spent == PrivacyBudget(0.2).units[0]


def test_queue_when_the_oldest_job_cannot_start_then_it_fails_and_the_next_runs(
    db: Database, tmp_path: Path
):
    """A queued job that cannot start (here: a stored spec no kind reads any more) fails
    unrun; it must not stay the oldest queued job and hold up the pool."""
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0)
    runner = InProcessRunner()
    service = JobService(db, settings, runner, workers=0, untimed_workers=0)
    broken = service.submit(who, grant_id, aggregate_spec(epsilon=0.1))
    fine = service.submit(who, grant_id, aggregate_spec(epsilon=0.2))
    with db.session() as s:
        s.execute(update(Job).where(Job.id == broken.id).values(spec={"kind": "aggregate", "x": 1}))
    worker = JobService(db, settings, runner, workers=1, untimed_workers=0)
    worker.shutdown(wait=True)
    with db.session() as s:
        rows = [s.get(Job, j.id) for j in (broken, fine)]
        assert [r.status for r in rows] == ["failed", "awaiting_review"]
        assert rows[0].started_at is None and rows[0].lease_owner is None
    assert runner.ran == [fine.id]


def test_queue_when_draining_then_running_jobs_go_back_and_nothing_new_is_claimed(
    db: Database, tmp_path: Path
):
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0)
    blocked, running = threading.Event(), threading.Event()

    class Stuck(InProcessRunner):
        def run(self, task: Task) -> Outcome:
            running.set()
            blocked.wait(30)
            return execute(task)

    service = JobService(db, settings, Stuck(), workers=1, untimed_workers=0)
    first = service.submit(who, grant_id, aggregate_spec(epsilon=0.1))
    assert running.wait(10)
    assert service.drain(grace_s=0.2) == 1
    second = service.submit(who, grant_id, aggregate_spec(epsilon=0.2))  # after the drain
    blocked.set()
    deadline = time.monotonic() + 30
    while service.executor._busy and time.monotonic() < deadline:  # the late run ends
        time.sleep(0.05)
    with db.session() as s:
        statuses = [s.get(Job, j.id).status for j in (first, second)]
        attempt = s.get(Job, first.id).attempt
    assert statuses == ["queued", "queued"] and attempt == 1
    assert list(settings.quarantine_dir.glob(f"job-{first.id}*")) == []


def test_queue_when_the_runner_stopped_under_a_job_it_still_holds_then_not_failed(
    db: Database, tmp_path: Path
):
    """A stopped runner (the service is stopping) fails no job: where the drain could not
    hand it back, its lease expires and it is queued again, as before the stop."""
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0)
    ended = threading.Event()

    class Stopped(InProcessRunner):
        def run(self, task: Task) -> Outcome:
            ended.set()
            raise RunnerStopped("the service is stopping; the job goes back to the queue")

    service = JobService(db, settings, Stopped(), workers=1, untimed_workers=0)
    job = service.submit(who, grant_id, aggregate_spec(epsilon=0.1))
    assert ended.wait(10)
    deadline = time.monotonic() + 30
    while service.executor._busy and time.monotonic() < deadline:
        time.sleep(0.05)
    with db.session() as s:
        row = s.get(Job, job.id)
        assert row is not None
        assert (row.status, row.error, row.attempt) == ("running", "", 1)
    assert service.executor.leases.held() == []  # no longer renewed: it expires
    service.drain(grace_s=0)
    assert list(settings.quarantine_dir.glob(f"job-{job.id}*")) == []


def _ingest(
    db: Database,
    tmp_path: Path,
    tags: dict[str, str],
    frame: pl.DataFrame | None = None,
    **extra: object,
):
    settings = Settings(data_dir=tmp_path / "data", database_url=db.url, rows_per_partition=150)
    upload = tmp_path / "t.csv"
    (residents(600) if frame is None else frame).write_csv(upload)
    with db.session() as s:
        bootstrapped = s.get(User, 1) is not None
    if not bootstrapped:
        auth.bootstrap(db)  # user 1 records the ingest
    request = catalog.IngestRequest(
        name="residents",
        source="test",
        open_attribute=OpenAttribute.UNCONDITIONAL,
        grade=Grade.GENERAL,
        tags={k: ColumnTag(v) for k, v in tags.items()},
        **extra,
    )
    return settings, catalog.ingest(db, settings, "test", 1, upload, request)


def test_ingest_when_a_column_is_untagged_then_it_takes_the_proposal(db: Database, tmp_path: Path):
    tags = {k: v for k, v in TAGS.items() if k != "phone"}
    _, dataset = _ingest(db, tmp_path, tags)
    phone = next(c for c in dataset.columns if c.name == "phone")
    assert (phone.tag, phone.tag_source) == ("direct_identifier", "proposal")
    assert phone.evidence["entities"] == {"PHONE_NUMBER": phone.evidence["sampled"]}


def test_ingest_when_declared_tag_protects_less_than_proposal_then_override_needed(
    db: Database, tmp_path: Path
):
    from policies.errors import InvalidRequest

    tags = TAGS | {"phone": "plain"}
    with pytest.raises(InvalidRequest, match=r"phone \(declared plain, proposed direct_identifier"):
        _ingest(db, tmp_path, tags)
    assert not list((tmp_path / "data").rglob("*.parquet"))  # nothing stored
    _, dataset = _ingest(db, tmp_path, tags, overrides={"phone": "numbers are synthetic"})
    phone = next(c for c in dataset.columns if c.name == "phone")
    assert (phone.tag, phone.tag_source, phone.proposed_tag) == (
        "plain",
        "override",
        "direct_identifier",
    )
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "dataset.ingest")).one()
        assert entry.details["tag_overrides"] == {"phone": "numbers are synthetic"}


def test_ingest_when_privacy_unit_given_then_each_person_lives_in_one_partition_sorted(
    db: Database, tmp_path: Path
):
    import polars as pl

    _, dataset = _ingest(
        db,
        tmp_path,
        TAGS,
        privacy_unit="resident_id",
        public_keys={"city": ["南京市", "苏州市", "无锡市", "常州市"]},
    )
    files = catalog.dataset_files(dataset.path)
    assert dataset.partitions == len(files) == 4  # 600 rows / 150 per partition
    seen: dict[str, int] = {}
    for i, f in enumerate(files):
        units = pl.read_parquet(f)["resident_id"]
        assert units.to_list() == sorted(units.to_list())  # a person's rows together
        for unit in units.unique():
            assert seen.setdefault(unit, i) == i
    assert catalog.scan_dataset(dataset.path).select(pl.len()).collect().item() == 600
    assert dataset.sha256 == catalog.content_sha256(dataset.path)
    assert dataset.public_keys == {"city": ["南京市", "苏州市", "无锡市", "常州市"]}


def _without_unit(younger_than: int, missing: str | None = None) -> pl.DataFrame:
    """The factory's residents with no resident ID for everyone younger than ``younger_than``
    (null, or the string ``missing``: an empty or blank cell)."""
    frame = residents(600)
    unit = (
        pl.when(pl.col("age") < younger_than)
        .then(pl.lit(missing, dtype=pl.String))
        .otherwise(pl.col("resident_id"))
    )
    return frame.with_columns(unit.alias("resident_id"))


def test_ingest_when_privacy_unit_partly_null_then_the_count_is_recorded(
    db: Database, tmp_path: Path
):
    frame = _without_unit(24)  # ages 18-23: 6 of every 60 rows
    _, dataset = _ingest(db, tmp_path, TAGS, frame, privacy_unit="resident_id")
    assert dataset.null_unit_rows == 60 == frame["resident_id"].null_count()


@pytest.mark.parametrize("blank", ["", "  "])
def test_ingest_when_privacy_unit_blank_then_counted_and_refused_like_null(
    db: Database, tmp_path: Path, blank: str
):
    from policies.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match=r"'resident_id' is empty in 420 of 600 rows"):
        _ingest(db, tmp_path, TAGS, _without_unit(60, blank), privacy_unit="resident_id")
    frame = _without_unit(24, blank)  # a quoted "" (or blanks) in the CSV, not a null
    assert frame["resident_id"].null_count() == 0
    _, dataset = _ingest(db, tmp_path, TAGS, frame, privacy_unit="resident_id")
    assert dataset.null_unit_rows == 60


def test_ingest_when_privacy_unit_mostly_null_then_refused_and_nothing_stored(
    db: Database, tmp_path: Path
):
    from policies.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match=r"'resident_id' is empty in 420 of 600 rows"):
        _ingest(db, tmp_path, TAGS, _without_unit(60), privacy_unit="resident_id")
    assert not list((tmp_path / "data").rglob("*.parquet"))  # nothing stored
    # exactly half is still a unit that names people
    _, dataset = _ingest(db, tmp_path, TAGS, _without_unit(48), privacy_unit="resident_id")
    assert dataset.null_unit_rows == 300


def test_job_when_grant_suspended_before_it_runs_then_it_does_not_run(db: Database, tmp_path: Path):
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0)
    gate, entered = threading.Event(), threading.Event()

    class Gated(InProcessRunner):
        def run(self, task: Task) -> Outcome:
            entered.set()
            gate.wait(30)
            return super().run(task)

    runner = Gated()
    service = JobService(db, settings, runner, workers=1)  # one worker: the second job queues
    first = service.submit(who, grant_id, aggregate_spec(epsilon=0.2))
    second = service.submit(who, grant_id, aggregate_spec(epsilon=0.3))
    assert entered.wait(30)  # the first job is running when the grant is suspended
    with db.session() as s:
        steward_id = s.scalar(select(User.id).where(User.name == "steward"))
        assert steward_id is not None
        grants.transition(
            db, s, "test", grant_id, GrantState.SUSPENDED, "exceeded scope", user_id=steward_id
        )
    gate.set()
    service.shutdown(wait=True)
    with db.session() as s:
        done, stopped = s.get(Job, first.id), s.get(Job, second.id)
        assert done is not None and stopped is not None
        assert done.status == "awaiting_review"  # it was running already
        assert stopped.status == "failed" and "art. 76" in stopped.error
    assert runner.ran == [first.id]
    assert not (settings.quarantine_dir / f"job-{second.id}.parquet").exists()


def test_job_when_custom_code_holds_every_worker_then_visible_jobs_still_start(
    db: Database, tmp_path: Path
):
    # A custom job's run time is hidden from the operator; held for a data-dependent time it
    # must not delay the start of the operator's aggregate (whose started_at they see).
    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0, kinds=("aggregate", "custom"))
    release, held = threading.Event(), threading.Event()

    class HoldsCustom(InProcessRunner):
        def run(self, task: Task) -> Outcome:
            if task.spec["kind"] != "custom":
                return super().run(task)
            held.set()
            release.wait(30)
            out = Path(task.output_path).with_suffix(".zip")
            with zipfile.ZipFile(out, "w"):
                pass
            return Outcome(str(out), sha256_file(out), rows=0, epsilon=0.0, delta=0.0)

    service = JobService(db, settings, HoldsCustom(), workers=1, untimed_workers=1)
    try:
        custom = service.submit(
            who, grant_id, {"kind": "custom", "datasets": ["residents"], "source": "print(1)"}
        )
        assert held.wait(30)
        visible = service.submit(who, grant_id, aggregate_spec(epsilon=0.2))
        deadline = time.monotonic() + 60
        while _status(db, visible.id) != "awaiting_review" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _status(db, visible.id) == "awaiting_review"
        with db.session() as s:
            still = s.get(Job, custom.id)
            assert still is not None and still.status == "running"
    finally:
        release.set()
        service.shutdown(wait=True)


def _status(db: Database, job_id: int) -> str | None:
    with db.session() as s:
        job = s.get(Job, job_id)
        return None if job is None else job.status


#: ARX's format for the factory's cities: city -> region -> *.
CITY_HIERARCHY = "南京市;苏南;*\n苏州市;苏南;*\n无锡市;苏南;*\n"


def _steward(db: Database) -> Principal:
    with db.session() as s:
        user = s.scalar(select(User).where(User.name == "steward"))
        assert user is not None
        return Principal(user.id, user.name, user.role, user.org_id, "bureau")


def test_hierarchies_when_stored_then_an_extract_uses_the_stewards_and_reports_it(
    db: Database, tmp_path: Path
):
    from sandbox.catalog import hierarchies
    from sandbox.jobs.facts import dataset_facts

    settings, who, grant_id = _world(db, tmp_path, epsilon=1.0, kinds=("extract",))
    steward = _steward(db)
    hierarchies.put(db, steward, "residents", "city", CITY_HIERARCHY, "region")
    with pytest.raises(Conflict, match="named 'region'"):  # one name per dataset
        hierarchies.put(db, steward, "residents", "age", "18;*\n", "region")
    with db.session() as s:
        facts = dataset_facts(catalog.get(s, "residents"))
    assert [(h.name, h.column) for h in facts.hierarchies] == [("region", "city")]
    service = JobService(db, settings, InProcessRunner(), workers=1, untimed_workers=0)
    spec = {"kind": "extract", "dataset": "residents", "columns": ["city", "age"], "k": 5}
    job = service.submit(who, grant_id, spec)
    service.shutdown(wait=True)
    with db.session() as s:
        row = s.get(Job, job.id)
        assert row is not None and row.status == "awaiting_review", row.error
        city = row.report["generalization"]["city"]
    assert (city["source"], city["hierarchy"]["name"]) == ("steward", "region")


def test_hierarchies_when_migrated_down_and_up_then_the_table_comes_back_empty(
    db: Database, tmp_path: Path
):
    from sandbox.catalog import hierarchies

    _world(db, tmp_path, epsilon=1.0)
    hierarchies.put(db, _steward(db), "residents", "city", CITY_HIERARCHY, None)
    _alembic(db, "downgrade", "0009")
    _alembic(db, "upgrade", "head")
    with db.session() as s:
        assert catalog.get(s, "residents").hierarchies == []
