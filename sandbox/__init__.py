"""The service around the rules and the jobs.

Map of the package:

- :mod:`sandbox.settings` — :class:`Settings` (``SANDBOX_*``).
- :mod:`sandbox.store` — SQLAlchemy models, :class:`Database`, Alembic migrations.
- :mod:`sandbox.audit.chain` — the hash-chained audit log.
- :mod:`sandbox.access.auth` — principals, tokens, bootstrap.
- :mod:`sandbox.catalog.datasets` — dataset ingest and metadata.
- :mod:`sandbox.access.grants` — grants and their states (art. 76).
- :mod:`sandbox.access.ledger` — atomic ε/δ reservation.
- :mod:`sandbox.jobs.service` — submission and execution on Ray.
- :mod:`sandbox.checks.engine` — automatic disclosure checks.
- :mod:`sandbox.airlock.review` — review, release with signed manifest, download.
- :mod:`sandbox.airlock.signing` — Ed25519 manifest signatures.
- :mod:`sandbox.service` — :class:`Sandbox`, the service object.
- :mod:`sandbox.web.api` — the FastAPI app (``/v1``).
- :mod:`sandbox.client` — the analysts' client (no server dependency).
- :mod:`sandbox.cli.main` — the ``sandbox`` command.
- :mod:`sandbox.cli.demo` — the end-to-end demonstration behind ``make demo``.

This ``__init__`` imports nothing, so ``import sandbox.client`` stays light.
"""
