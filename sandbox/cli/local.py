"""The local commands' access to this host's settings and database (no service, no token)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.settings import Settings
    from sandbox.store.db import Database


def settings() -> Settings:
    """The settings from ``SANDBOX_*`` (refused if insecure outside development).

    Raises:
        SandboxError: An invalid or insecure setting.
    """
    from sandbox.settings import Settings

    return Settings.load()


def open_database(settings: Settings) -> Database:
    """The migrated store, able to write audit entries (MAC key from the secret).

    The data folder is made first when missing (owner-only, as ``sandbox serve``
    makes it): SQLite cannot create its file in a folder that is not there, and a
    first ``sandbox admin bootstrap`` on a new host comes before any ``serve``. The
    database is migrated as the service would be at start (``migrate_on_start``);
    otherwise a database behind this version is refused.

    Raises:
        SchemaNotAtHead: Not migrating, and the database is not at this code's head.
    """
    from sandbox.audit.chain import mac_key
    from sandbox.service import private_dir, private_sqlite_file
    from sandbox.store.db import Database

    private_dir(settings.data_dir)
    private_sqlite_file(settings.db_url)
    db = Database(settings.db_url, audit_key=mac_key(settings.secret()))
    if settings.migrates_on_start:
        db.migrate()
    else:
        db.check_at_head()
    return db
