"""Engine, sessions and migrations.

SQLite (embedded default) runs every transaction as ``BEGIN IMMEDIATE``:
writers queue on the database lock instead of failing half-way, which is
what keeps the audit chain linear and the ledger exact without a server.
PostgreSQL (production) serializes audit appends with an advisory lock and
budget reservations with a ``SELECT ... FOR UPDATE`` of the firm × dataset
budget row (after the grant row); see :mod:`sandbox.access.ledger`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from policies.errors import InvalidRequest, SandboxError

#: Key of the PostgreSQL advisory lock that serializes audit appends.
AUDIT_LOCK_KEY = 0x5A4E_D0C5


class SchemaNotAtHead(SandboxError):
    """The database's schema is not the one this version of the service needs."""

    code = "schema_not_at_head"


def _sqlite_immediate(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _refuse_nul(engine: Engine) -> None:
    """Refuse text holding NUL before it reaches the database, on both dialects alike.

    PostgreSQL's text and JSONB cannot hold NUL (psycopg raises ``DataError``,
    which would answer a request with a 5xx); SQLite would store it. A request
    that sends one gets a 422 instead, and its transaction is rolled back.
    """

    @event.listens_for(engine, "before_cursor_execute")
    def _check(
        _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if _holds_nul(parameters):
            raise InvalidRequest(
                "text in the request holds a NUL character (\\x00 or \\u0000), which the "
                "sandbox does not store; remove it and send the request again"
            )


def _holds_nul(parameters: Any) -> bool:
    """Whether bound parameters (a row, rows, or a mapping) hold a NUL in any text.

    Only a real NUL character counts: the six characters ``\\u0000`` typed as text
    are stored as they are (JSON columns arrive serialized by :func:`_json_dumps`).
    """
    if isinstance(parameters, str):
        return "\x00" in parameters
    if isinstance(parameters, dict):
        return any(_holds_nul(v) for v in parameters.values())
    if isinstance(parameters, list | tuple):
        return any(_holds_nul(v) for v in parameters)
    return False


def _json_dumps(value: Any) -> str:
    """JSON for a JSON column; a value holding a real NUL (which PostgreSQL's JSONB
    rejects as the escape ``\\u0000``) becomes a bare NUL that :func:`_refuse_nul`
    refuses with a 422. The text ``\\u0000`` is written ``\\\\u0000`` and stored.
    """
    return "\x00" if _nul_in_value(value) else json.dumps(value)


def _nul_in_value(value: Any) -> bool:
    """Whether a JSON value holds a NUL in any text, keys included."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_nul_in_value(k) or _nul_in_value(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_nul_in_value(v) for v in value)
    return False


def storable(value: Any) -> Any:
    """``value`` with NUL in its text (keys included) shown as ``�``, for what the sandbox
    writes itself from a job's run (output tails, check reasons quoting names): text
    chosen by an operator's code must not fail the job when it is stored.

    >>> storable({"tail": "a\\x00b", "n": [1, "\\x00"]})
    {'tail': 'a�b', 'n': [1, '�']}
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


class Database:
    """One engine and its session factory.

    Args:
        url: SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
        audit_key: The key that MACs audit entries (:func:`sandbox.audit.chain.mac_key`), or a
            callable that returns it on first use; it never enters the database.
    """

    def __init__(self, url: str, audit_key: bytes | Callable[[], bytes] | None = None) -> None:
        self.url = url
        self._audit_key = audit_key
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs |= {"pool_size": 10, "max_overflow": 20}
        self.engine = create_engine(url, json_serializer=_json_dumps, **kwargs)
        if self.is_sqlite:
            _sqlite_immediate(self.engine)
        _refuse_nul(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @staticmethod
    def _alembic_config() -> Config:
        config = Config()
        script_location = str(resources.files("sandbox") / "store" / "migrations")
        config.set_main_option("script_location", script_location)
        return config

    def migrate(self) -> None:
        """Apply Alembic migrations up to head (idempotent)."""
        config = self._alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @classmethod
    def head(cls) -> str:
        """The newest migration this version of the code knows."""
        head = ScriptDirectory.from_config(cls._alembic_config()).get_current_head()
        if head is None:  # pragma: no cover - the package ships its migrations
            raise SchemaNotAtHead("no migrations found in the installed package")
        return head

    def revision(self) -> str | None:
        """The migration the database is at (None: never migrated)."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def at_head(self) -> bool:
        """Whether the database's schema is the one this code needs."""
        return self.revision() == self.head()

    def check_at_head(self) -> None:
        """Refuse a database whose schema this code does not expect.

        Raises:
            SchemaNotAtHead: Behind (or ahead of) the code's newest migration.
        """
        revision = self.revision()
        if revision != self.head():
            raise SchemaNotAtHead(
                f"the database is at migration {revision or '(none)'}, this version needs "
                f"{self.head()}: run `sandbox admin migrate` first (with this version's image)"
            )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def audit_key(self) -> bytes | None:
        """The audit MAC key, if this database was given one."""
        if callable(self._audit_key):
            self._audit_key = self._audit_key()
        return self._audit_key

    def lock_audit(self, session: Session) -> None:
        """Serialize audit appends until the transaction ends."""
        if not self.is_sqlite:  # SQLite: BEGIN IMMEDIATE already holds the write lock
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
