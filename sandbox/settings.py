"""Configuration: one :class:`Settings`, built once and passed in.

Every value comes from ``SANDBOX_*`` environment variables (or a ``.env``
file) when :meth:`Settings.load` is called, never at import time. Embedded
defaults need no set-up: a data folder, a SQLite file inside it and a local
Ray. Production sets ``SANDBOX_ENVIRONMENT=production`` and then weak or
generated-on-the-fly secrets are refused.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from policies.errors import InvalidRequest

#: Secrets that appear in templates and tutorials; never accepted outside development.
_WEAK_SECRETS = frozenset({"changethis", "secret", "password", "changeme", "dev", "test"})
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """Data Sandbox settings (environment prefix ``SANDBOX_``)."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path(".sandbox")
    #: Where datasets, quarantine and releases live instead of the data folder: an
    #: S3-compatible bucket and prefix (``s3://bucket/prefix``), so Ray workers on any
    #: node read partitions directly and no shared volume is needed. Credentials and the
    #: endpoint come from each process's environment (``AWS_*``, or ``AWS_*_FILE``; see
    #: :mod:`jobs.storage`), never from here nor from the database. Unset: the data folder.
    storage_url: str | None = None
    #: SQLAlchemy URL; default a SQLite file in the data folder.
    database_url: str | None = None
    #: Address of an existing Ray cluster; unset starts a local Ray (dashboard off).
    ray_address: str | None = None
    ray_num_cpus: int | None = Field(default=None, ge=1)
    #: Signs manifests and keys pseudonyms; default generated into the data folder.
    secret_key: SecretStr | None = None
    #: Keys of secrets used before a rotation (`sandbox audit key` outputs, one a line), so
    #: that audit entries, manifests and heads under them verify.
    audit_retired_keys: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    job_timeout_s: float = Field(default=600.0, gt=0)
    #: The automatic checks of an output run in a child process: its address space
    #: (MiB), CPU seconds and wall seconds. A child that exceeds one fails the ``checks``
    #: verdict for the steward, never the job.
    checks_memory_mb: int = Field(default=4096, ge=1024)
    checks_cpu_s: int = Field(default=900, ge=1)
    checks_wall_s: float = Field(default=1800.0, gt=0)
    #: Rows per stored partition; Ray evaluates partitions in parallel.
    rows_per_partition: int = Field(default=1_000_000, ge=1)
    #: Largest file a steward may upload for ingest.
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0)
    #: Most columns an uploaded table (ingest or proposal) may have.
    max_columns: int = Field(default=1000, ge=1)
    #: Failed sign-ins (API token or console) one address may make per window before it
    #: must wait; the window in seconds.
    auth_failure_limit: int = Field(default=10, ge=1)
    auth_failure_window_s: float = Field(default=300.0, gt=0)
    #: Proxies whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed (comma-separated
    #: addresses or networks, e.g. ``10.0.0.7``). Unset: none, not even loopback; a trusted
    #: address can name any client, so a guesser behind it could rotate past the sign-in
    #: throttle.
    forwarded_allow_ips: str | None = None
    #: Worker threads ``sandbox serve`` runs beside the API (0: an API-only process, with
    #: ``sandbox worker`` processes elsewhere) for jobs whose run times operators see...
    workers: int = Field(default=4, ge=0)
    #: ...and for jobs of untimed kinds (custom code), which never share a worker with those.
    untimed_workers: int = Field(default=2, ge=0)
    #: A worker holds a running job for this long and renews it every third of it; a job
    #: whose lease ends (a killed worker, a lost host) goes back to the queue.
    lease_s: float = Field(default=30.0, ge=1.0)
    #: How often an idle worker looks at the queue (a job submitted to the same process
    #: wakes its workers at once).
    poll_s: float = Field(default=1.0, gt=0)
    #: On SIGTERM, running jobs may finish within this many seconds; the rest go back to
    #: the queue. Keep it below Kubernetes' terminationGracePeriodSeconds.
    drain_grace_s: float = Field(default=60.0, ge=0)
    #: Runs a job may start; one whose worker died this many times fails (its charge stays).
    max_attempts: int = Field(default=3, ge=1)
    #: Days rejected, returned and failed jobs' outputs are kept in quarantine before deletion.
    retention_days: int = Field(default=30, ge=1)
    #: ``text`` for a terminal, ``json`` (one object a line) for a log collector.
    log_format: Literal["text", "json"] = "text"
    #: Port of ``sandbox worker``'s /healthz, /readyz and /metrics.
    worker_port: int = Field(default=9100, ge=1, le=65535)
    #: Whether the service applies database migrations when it starts. None: in
    #: development yes; in production no, the schema is migrated once by
    #: ``sandbox admin migrate`` (a Kubernetes Job) and a service on an older schema
    #: refuses to start.
    migrate_on_start: bool | None = None
    #: When set, ``/metrics`` asks for ``Authorization: Bearer <it>`` (401 otherwise). Required
    #: outside development: the figures include ε spent per grant of every organisation,
    #: which operators must not read through a proxy that forwards everything. Either way
    #: the Ingress must not route ``/metrics``: Prometheus scrapes pods from inside.
    metrics_token: SecretStr | None = None
    #: The time zone the review console shows times in (an IANA name, e.g. ``UTC``).
    console_timezone: str = "Asia/Shanghai"

    @field_validator("storage_url")
    @classmethod
    def _bucket_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        bucket = value.removeprefix("s3://").split("/", 1)[0]
        if not value.startswith("s3://") or not bucket or "?" in value or "@" in value:
            raise ValueError("SANDBOX_STORAGE_URL must read s3://bucket/prefix (no credentials)")
        return value.rstrip("/")

    @field_validator("console_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"not an IANA time zone name: {value!r}") from err
        return value

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        """Read the environment now and check the result.

        Raises:
            InvalidRequest: An insecure setting outside development.
        """
        settings = cls(**overrides)  # type: ignore[arg-type]
        settings.check_secure()
        return settings

    @property
    def db_url(self) -> str:
        """The database URL in force."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sandbox.db').resolve()}"

    @property
    def migrates_on_start(self) -> bool:
        """Whether :attr:`migrate_on_start` applies, its default resolved by environment."""
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.environment == "development"

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def releases_dir(self) -> Path:
        return self.data_dir / "releases"

    @property
    def datasets_location(self) -> str:
        """Where datasets are stored: a local folder, or a prefix in object storage."""
        return self._location("datasets")

    @property
    def quarantine_location(self) -> str:
        """Where jobs' outputs wait for review: a local folder, or a prefix in object storage."""
        return self._location("quarantine")

    @property
    def releases_location(self) -> str:
        """Where released files are: a local folder, or a prefix in object storage."""
        return self._location("releases")

    def _location(self, folder: str) -> str:
        if self.storage_url is not None:
            return f"{self.storage_url}/{folder}"
        return str((self.data_dir / folder).resolve())

    def check_secure(self) -> None:
        """Refuse insecure settings outside development.

        Raises:
            InvalidRequest: What to change.
        """
        if self.environment == "development":
            return
        if self.secret_key is None:
            raise InvalidRequest(
                "SANDBOX_SECRET_KEY must be set in production (e.g. from a Kubernetes secret); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        _check_strong(self.secret_key.get_secret_value())
        if self.metrics_token is None or _is_weak(self.metrics_token.get_secret_value()):
            raise InvalidRequest(
                "SANDBOX_METRICS_TOKEN must be set in production to at least "
                f"{MIN_SECRET_LENGTH} random characters (/metrics shows ε spent per grant); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.host not in ("127.0.0.1", "::1", "localhost") and self.db_url.startswith("sqlite"):
            raise InvalidRequest(
                "a service reachable from other hosts must use PostgreSQL: set SANDBOX_DATABASE_URL"
            )

    def secret(self) -> bytes:
        """The deployment secret: the configured one, or one generated into the data folder.

        The generated file is created with mode 0600 on first use and reused after.
        """
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if self.environment != "development":
                _check_strong(value)
            return value.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Written whole to a private temporary file, then linked into place:
            # a process starting at the same moment sees no file or a complete
            # one, never an empty one.
            fd, tmp = tempfile.mkstemp(dir=self.data_dir, prefix=".secret_key.")
            try:
                with os.fdopen(fd, "w") as handle:  # mkstemp creates it with mode 0600
                    handle.write(secrets.token_urlsafe(48))
                os.link(tmp, path)
            except FileExistsError:  # another process created it first: use theirs
                pass
            finally:
                os.unlink(tmp)
        if path.stat().st_mode & 0o077:
            raise InvalidRequest(f"{path} is readable by other users; run: chmod 600 {path}")
        value = path.read_text().strip()
        _check_strong(value)
        return value.encode()


def _is_weak(value: str) -> bool:
    return value.lower() in _WEAK_SECRETS or len(value) < MIN_SECRET_LENGTH


def _check_strong(value: str) -> None:
    if _is_weak(value):
        raise InvalidRequest(
            f"the secret key is weak: use at least {MIN_SECRET_LENGTH} random characters"
        )
