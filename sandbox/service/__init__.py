"""The service object: settings, store, runner and job service, built once."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from sqlalchemy.engine import make_url

from jobs.runner import RayRunner
from sandbox.airlock.releases import recover_releases
from sandbox.audit import chain as audit
from sandbox.jobs.service import JobService, Runner
from sandbox.service import retention
from sandbox.settings import Settings
from sandbox.store.db import Database

log = logging.getLogger(__name__)


def private_dir(folder: Path) -> None:
    """Make ``folder`` (if missing) and leave it to its owner only (0700), whatever the umask.

    The data folder holds the datasets, the quarantined outputs, the releases,
    the database and the secret: no other user of the host may list or read them.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


def private_sqlite_file(url: str) -> None:
    """Create a SQLite database file owner-only (0600) before SQLite creates it 0644.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode. A
    URL of another database, or of an in-memory one, is left alone.
    """
    parsed = make_url(url)
    name = parsed.database or ""
    in_memory = name in ("", ":memory:") or name.startswith("file:")
    if parsed.get_backend_name() != "sqlite" or in_memory:
        return
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            os.chmod(file, 0o600)


class Sandbox:
    """Everything a request handler needs.

    Args:
        settings: Loaded settings.
        runner: Executes tasks; default a :class:`RayRunner` from the settings.
    """

    def __init__(self, settings: Settings, runner: Runner | None = None) -> None:
        self.settings = settings
        private_dir(settings.data_dir)
        private_sqlite_file(settings.db_url)
        # The audit MAC key derives from the secret on the first append, never in the database.
        self.db = Database(settings.db_url, audit_key=lambda: audit.mac_key(settings.secret()))
        # a runner of its own is stopped on close; one passed in (tests) is the caller's
        self._own_runner: RayRunner | None = None
        if runner is None:
            runner = self._own_runner = RayRunner(
                settings.ray_address, settings.ray_num_cpus, settings.job_timeout_s
            )
        self.runner = runner
        self.jobs = JobService(self.db, settings, self.runner)
        self._started = False
        self._housekeeping = threading.Event()

    @property
    def runs_jobs(self) -> bool:
        """Whether this process runs jobs (it has workers); an API-only process does not."""
        return self.jobs.executor.workers + self.jobs.executor.untimed_workers > 0

    def start(self) -> None:
        """Migrate, make folders, requeue jobs left running, start (or join) Ray and workers."""
        if self._started:
            return
        self.settings.check_secure()
        self.settings.secret()  # generated now (mode 0600), not on the first release
        for folder in (
            self.settings.datasets_dir,
            self.settings.quarantine_dir,
            self.settings.releases_dir,
            self.settings.data_dir / "uploads",
        ):
            private_dir(folder)
        self.prepare_schema()
        published, removed = recover_releases(self.db, self.settings)
        if published or removed:
            log.warning(
                "releases interrupted by the last shutdown: %d published, %d stray files removed",
                len(published),
                len(removed),
            )
        if self.runs_jobs:
            stale = self.jobs.recover()
            if stale:
                log.warning("%d jobs left running by a stopped worker were requeued", stale)
            # Ray starts here, in a thread that lives as long as the service: Ray
            # ties its daemons to the starting thread (PR_SET_PDEATHSIG), so a
            # short-lived warm-up thread would take them down when it ends.
            start = getattr(self.runner, "start", None)
            if start is not None:
                start()
            self.jobs.start()
            # rejected, returned, failed outputs past SANDBOX_RETENTION_DAYS: hourly, by workers
            self._housekeeping.clear()
            threading.Thread(
                target=retention.sweep_periodically,
                args=(self.db, self.settings, self._housekeeping),
                name="retention",
                daemon=True,
            ).start()
        self._started = True

    def prepare_schema(self) -> None:
        """Migrate the database, or (``migrate_on_start`` off) check it is migrated.

        Raises:
            SchemaNotAtHead: Not migrating, and the database is not at this code's head.
        """
        if self.settings.migrates_on_start:
            self.db.migrate()
        else:
            self.db.check_at_head()

    def close(self, grace_s: float | None = None) -> None:
        """Drain the workers (running jobs finish within ``grace_s``, default the settings';
        the rest go back to the queue), then release the database."""
        self._housekeeping.set()
        self.jobs.drain(grace_s)
        if self._own_runner is not None:  # after the drain: no job thread waits on Ray
            self._own_runner.stop()
        self.db.dispose()
        self._started = False
