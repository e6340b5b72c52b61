"""The service around the rules and the jobs.

Map of the package (front ends above the service above its parts above the store):

- :mod:`sandbox.cli` — the ``sandbox`` command and the demonstration behind ``make demo``.
- :mod:`sandbox.client` — the analysts' light client (imports nothing of the server).
- :mod:`sandbox.web` — the app factory; the API ``/v1`` (``web.api``) and the review
  console ``/console`` (``web.console``), which do not import each other.
- :mod:`sandbox.service` — :class:`Sandbox`, the service object, built once.
- :mod:`sandbox.airlock` — review, release with a signed manifest, download.
- :mod:`sandbox.jobs` — submission, execution and the life of a job: ``submit``,
  ``execute``, ``lifecycle`` (the one writer of a job's status), ``facts``.
- :mod:`sandbox.access` — principals and tokens, throttling, grants (art. 76), the ledger.
- :mod:`sandbox.checks` — automatic disclosure checks, one plugin per check.
- :mod:`sandbox.catalog` — dataset ingest, uploads, public facts, PII proposals.
- :mod:`sandbox.audit` — the hash-chained, keyed audit log and its anchors.
- :mod:`sandbox.store` — SQLAlchemy models, :class:`Database`, Alembic migrations.
- :mod:`sandbox.settings` — :class:`Settings` (``SANDBOX_*``).

This ``__init__`` imports nothing, so ``import sandbox.client`` stays light. It belongs
to the ``data-sandbox`` distribution; ``data-sandbox-client`` ships ``sandbox/client/``
without it (installed alone, ``sandbox`` is then a namespace package).
"""
