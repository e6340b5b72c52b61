"""The service around the rules and the jobs.

Map of the package:

- :mod:`sandbox.settings` — :class:`Settings` (``SANDBOX_*``).
- :mod:`sandbox.store` — SQLAlchemy models, :class:`Database`, Alembic migrations.
- :mod:`sandbox.audit` — the hash-chained audit log.
- :mod:`sandbox.auth` — principals, tokens, bootstrap.
- :mod:`sandbox.catalog` — dataset ingest and metadata.
- :mod:`sandbox.grants` — grants and their states (art. 76).
- :mod:`sandbox.ledger` — atomic ε/δ reservation.
- :mod:`sandbox.job_service` — submission and execution on Ray.
- :mod:`sandbox.checks` — automatic disclosure checks.
- :mod:`sandbox.airlock` — review, release with signed manifest, download.
- :mod:`sandbox.signing` — Ed25519 manifest signatures.
- :mod:`sandbox.service` — :class:`Sandbox`, the service object.
- :mod:`sandbox.api` — the FastAPI app (``/v1``).
- :mod:`sandbox.client` — the analysts' client (no server dependency).
- :mod:`sandbox.cli` — the ``sandbox`` command.
- :mod:`sandbox.demo` — the end-to-end demonstration behind ``make demo``.

This ``__init__`` imports nothing, so ``import sandbox.client`` stays light.
"""
