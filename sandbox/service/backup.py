"""Backups of a deployment, taken while it runs, and their restoration into an empty one.

A backup is a folder: the database (SQLite through its online backup API, a
consistent snapshot under concurrent writers; PostgreSQL through ``pg_dump -Fc``,
one repeatable-read transaction), the data folder's ``datasets/``, ``releases/``,
``quarantine/`` and ``uploads/`` under ``files/``, and ``manifest.json`` naming
every file with its SHA-256 and length in bytes, the Alembic revision, the dialect, the
time, the sandbox version and the fingerprint of the key in force. The secret
itself is never copied: a backup is useless without it, and a stolen backup
cannot forge a release or an audit entry. ``manifest.json.sha256`` holds the
manifest's own SHA-256 (``sha256sum -c`` reads it); ``manifest.json.hmac`` its
HMAC-SHA256 under a key derived from the secret (:func:`manifest_key`), so a
manifest rewritten with a recomputed SHA-256 is still refused.

The database is copied before the files: a file written after the snapshot is
one more file the restored catalog does not name (harmless), never a catalog row
without its file. A dataset withdrawn between the snapshot and the copy of its
files would be the opposite (a catalog row whose files are gone), so a backup
during which a withdrawal was audited is taken again (:func:`create`). The backup
is written into a hidden sibling folder and renamed into place whole, so a folder
of that name is a complete backup.

Restoring refuses anything but an empty deployment, checks the manifest (its MAC;
that every file lies in a backed-up folder, without ``..`` or symbolic links) and
every checksum first, then copies the database and the files back and verifies the
audit chain and each dataset's files against the catalog (:func:`restore`).

This module is long because taking, checking and restoring a backup share the
manifest's format and its checks, which are clearer read in one place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, inspect, literal, select
from sqlalchemy.engine import make_url

from policies.errors import Conflict, InternalError, InvalidRequest, SandboxError
from sandbox.audit import chain as audit
from sandbox.audit.anchors import retired_keys
from sandbox.audit.verify import verify as verify_chain
from sandbox.catalog.facts import content_sha256
from sandbox.service import private_dir, private_sqlite_file
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Base, Dataset

MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.json.sha256"
MANIFEST_MAC = "manifest.json.hmac"
#: The data folder's parts a backup holds (never ``secret_key``, never the SQLite file).
FOLDERS = ("datasets", "releases", "quarantine", "uploads")
FORMAT = 1
_DB_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
_BLOCK = 1 << 20
_MANIFEST_KEY_INFO = b"data-sandbox backup manifest mac v1"
#: Backups taken again when withdrawals keep landing between snapshot and file copy.
_ATTEMPTS = 3


class RestoreFailed(SandboxError):
    """A restored deployment did not verify (audit chain or dataset files)."""

    code = "restore_failed"


@dataclass(frozen=True, slots=True)
class Backup:
    """A backup written (or read): where, what, and its manifest's checksum."""

    path: Path
    files: int
    bytes: int
    manifest_sha256: str
    revision: str | None


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restoration brought back and checked."""

    files: int
    audit_entries: int
    releases: int
    datasets: int


def key_fingerprint(secret: bytes) -> str:
    """The fingerprint of the audit MAC key derived from ``secret`` (as audit entries carry).

    It tells which secret made a backup without revealing it.
    """
    return audit.key_id(audit.mac_key(secret))


def manifest_key(secret: bytes) -> bytes:
    """The key that MACs backup manifests: HKDF-SHA256 (RFC 5869) of the deployment secret.

    A label of its own keeps it apart from the audit MAC key and the other keys
    derived from the same secret.
    """
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_MANIFEST_KEY_INFO).derive(
        secret
    )


def manifest_mac(secret: bytes, text: bytes) -> str:
    """The HMAC-SHA256 (hex) a manifest of these bytes must carry in ``manifest.json.hmac``."""
    return hmac.new(manifest_key(secret), text, hashlib.sha256).hexdigest()


def dialect(url: str) -> str:
    """``sqlite`` or ``postgresql``.

    Raises:
        InvalidRequest: Another database.

    >>> dialect("postgresql+psycopg://u@h/db"), dialect("sqlite:///x.db")
    ('postgresql', 'sqlite')
    """
    name = make_url(url).get_backend_name()
    if name not in _DB_FILES:
        raise InvalidRequest(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy PostgreSQL URL as a libpq connection URI, and the password apart.

    The password goes to ``PGPASSWORD`` in the child's environment: a command line
    is visible to every user of the host (``ps``).

    >>> libpq("postgresql+psycopg://app:s3cret@db:5432/sandbox?sslmode=require")
    ('postgresql://app@db:5432/sandbox?sslmode=require', {'PGPASSWORD': 's3cret'})
    """
    parsed = make_url(url)
    env = {} if parsed.password is None else {"PGPASSWORD": str(parsed.password)}
    plain = parsed._replace(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def create(db: Database, settings: Settings, dest: Path, *, actor: str = "system") -> Backup:
    """Write a backup of the running deployment into ``dest`` (absent or empty).

    Args:
        db: The deployment's store.
        settings: Its settings (data folder, secret).
        dest: The backup folder; created whole by a rename at the end.
        actor: Who asked, as the audit log names them.

    Raises:
        Conflict: ``dest`` exists and is not an empty folder.
        InvalidRequest: An unsupported database, or no ``pg_dump``.
        InternalError: ``pg_dump`` failed.
    """
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Conflict(f"{dest} exists and is not an empty folder: choose a new backup folder")
    kind = dialect(db.url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(_ATTEMPTS):
        tmp = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:8]}"
        private_dir(tmp)
        try:
            seen = _audit_seq(db)
            revision = db.revision()
            entries = _take(db, settings, kind, tmp)
            if _withdrawn_since(db, seen):
                # the snapshot may name a dataset whose files went before they were copied
                shutil.rmtree(tmp)
                continue
            manifest = {
                "format": FORMAT,
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "sandbox_version": metadata.version("data-sandbox"),
                "dialect": kind,
                "alembic_revision": revision,
                "data_dir": str(settings.data_dir.resolve()),
                "key_fingerprint": key_fingerprint(settings.secret()),
                "database": _DB_FILES[kind],
                "files": entries,
            }
            text = json.dumps(manifest, indent=2, sort_keys=True).encode()
            (tmp / MANIFEST).write_bytes(text)
            digest = hashlib.sha256(text).hexdigest()
            (tmp / MANIFEST_SUM).write_text(f"{digest}  {MANIFEST}\n")
            (tmp / MANIFEST_MAC).write_text(manifest_mac(settings.secret(), text) + "\n")
            _fsync_dir(tmp)
            os.rename(tmp, dest)  # replaces an empty folder; refuses a non-empty one
            _fsync_dir(dest.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        break
    else:
        raise Conflict(
            f"datasets were withdrawn while each of {_ATTEMPTS} backups was taken: "
            "take the backup again"
        )
    files = len(entries) - 1
    size = sum(int(e["bytes"]) for e in entries)
    with db.session() as session:
        audit.append(
            db,
            session,
            actor,
            "backup.create",
            f"backup:{dest.name}",
            manifest_sha256=digest,
            files=files,
            bytes=size,
            alembic_revision=revision,
        )
    return Backup(dest, files, size, digest, revision)


def _take(db: Database, settings: Settings, kind: str, tmp: Path) -> list[dict[str, Any]]:
    """Copy the database, then the files, into ``tmp``: the manifest's file entries."""
    database = tmp / _DB_FILES[kind]
    if kind == "sqlite":
        _sqlite_copy(_sqlite_path(db.url), database)
    else:
        _pg_dump(db.url, database)
    entries = [{"path": database.name, **_digest(database)}]
    for relative, source in _data_files(settings.data_dir):
        target = tmp / "files" / relative
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            entries.append({"path": f"files/{relative}", **_copy(source, target)})
        except FileNotFoundError:  # removed since listed (an upload ingested): not needed
            continue
    return entries


def _audit_seq(db: Database) -> int:
    """The last committed audit entry's number (0: none)."""
    with db.session() as session:
        return int(session.scalar(select(func.coalesce(func.max(AuditEntry.seq), 0))) or 0)


def _withdrawn_since(db: Database, seq: int) -> bool:
    """Whether a withdrawal was committed after audit entry ``seq``.

    A withdrawal commits its ``dataset.withdraw`` entry with the tombstone and deletes
    the files after; one committed before ``seq`` was read is in the snapshot taken
    after, so only a later one can leave the snapshot naming files never copied.
    """
    with db.session() as session:
        later = select(AuditEntry.seq).where(
            AuditEntry.seq > seq, AuditEntry.action == "dataset.withdraw"
        )
        return session.scalar(later.limit(1)) is not None


def check(source: Path, secret: bytes) -> dict[str, Any]:
    """Read a backup's manifest after checking it and every file it names.

    The manifest must match its SHA-256 and its MAC under ``secret``; every file entry
    is the database or ``files/<backed-up folder>/...`` (relative, normalised, no ``..``,
    no symbolic link on the way) and matches its checksum.

    Args:
        source: The backup folder.
        secret: The deployment secret (the backed-up deployment's).

    Raises:
        InvalidRequest: No backup there, another secret's, an altered manifest, or a
            file outside the backed-up folders or not matching its checksum.
    """
    manifest_file, sum_file, mac_file = (
        source / MANIFEST,
        source / MANIFEST_SUM,
        source / MANIFEST_MAC,
    )
    if not manifest_file.is_file() or not sum_file.is_file():
        raise InvalidRequest(f"{source} holds no backup ({MANIFEST} and {MANIFEST_SUM} expected)")
    text = manifest_file.read_bytes()
    expected = sum_file.read_text().split()[0] if sum_file.read_text().split() else ""
    if hashlib.sha256(text).hexdigest() != expected:
        raise InvalidRequest(f"{MANIFEST} does not match {MANIFEST_SUM}: the backup was altered")
    try:
        manifest = json.loads(text)
    except ValueError as err:
        raise InvalidRequest(f"{MANIFEST} is not JSON: the backup was altered") from err
    if not isinstance(manifest, dict):
        raise InvalidRequest(f"{MANIFEST} is not a backup manifest")
    if manifest.get("format") != FORMAT:
        raise InvalidRequest(f"backup format {manifest.get('format')} is not {FORMAT}")
    configured = key_fingerprint(secret)
    if manifest.get("key_fingerprint") != configured:
        raise InvalidRequest(
            f"the backup was made under a secret key of fingerprint "
            f"{manifest.get('key_fingerprint')}, this deployment's is {configured}: set "
            "SANDBOX_SECRET_KEY (or the data folder's secret_key file) to the backed-up "
            "deployment's secret"
        )
    mac = mac_file.read_text().strip() if mac_file.is_file() else ""
    if not hmac.compare_digest(mac, manifest_mac(secret, text)):
        raise InvalidRequest(f"{MANIFEST} does not match {MANIFEST_MAC}: the backup was altered")
    _check_entries(source, manifest)
    return manifest


def _check_entries(source: Path, manifest: dict[str, Any]) -> None:
    """Every file entry's place (the database, or a backed-up folder's) and checksum."""
    database = _DB_FILES.get(str(manifest.get("dialect")))
    if database is None or manifest.get("database") != database:
        raise InvalidRequest(
            f"the manifest's database is not {database or 'a supported database file'}"
        )
    entries = manifest.get("files")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidRequest(f"{MANIFEST} lists no files")
    paths = [e.get("path") for e in entries]
    if paths.count(database) != 1 or len(set(map(str, paths))) != len(paths):
        raise InvalidRequest(f"the manifest must list {database} once, and each file once")
    root = source.resolve()
    for entry in entries:
        relative = entry["path"]
        if relative != database:
            _check_place(relative)
        if any((source / p).is_symlink() for p in _prefixes(relative)):
            raise InvalidRequest(f"the manifest names a symbolic link: {relative}")
        path = (source / relative).resolve()
        if not path.is_relative_to(root):
            raise InvalidRequest(f"the manifest names a file outside the backup: {relative}")
        if not path.is_file():
            raise InvalidRequest(f"the backup lacks {relative}")
        actual = _digest(path)
        if actual != {"sha256": entry.get("sha256"), "bytes": entry.get("bytes")}:
            raise InvalidRequest(f"{relative} does not match its checksum in {MANIFEST}")


def _check_place(relative: object) -> None:
    """Refuse a file entry that is not ``files/<backed-up folder>/...``, normalised.

    >>> _check_place("files/datasets/a/part-0.parquet")  # no error
    """
    pure = PurePosixPath(relative) if isinstance(relative, str) else None
    if (
        pure is None
        or pure.is_absolute()
        or pure.as_posix() != relative
        or "\\" in str(relative)
        or "\x00" in str(relative)
        or len(pure.parts) < 3
        or pure.parts[0] != "files"
        or pure.parts[1] not in FOLDERS
        or any(part in ("..", ".") for part in pure.parts)
    ):
        raise InvalidRequest(
            f"the manifest names a file outside the backed-up folders: {relative!r}"
        )


def _prefixes(relative: str) -> list[str]:
    """``a``, ``a/b``, ``a/b/c`` of ``a/b/c``."""
    parts = PurePosixPath(relative).parts
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def restore(settings: Settings, source: Path, *, actor: str = "system") -> Restored:
    """Restore a backup into this (empty) deployment, then verify it.

    Order: the key, the manifest's MAC and file places, every checksum; the dialect,
    migration and data folder; that the deployment is empty and every file's target lies
    inside its data folder; the database; the files; the audit chain; each dataset's files.

    Args:
        settings: The deployment to restore into (its data folder, database, secret).
        source: The backup folder.
        actor: Who asked, as the audit log names them.

    Raises:
        InvalidRequest: A checksum or the manifest's MAC fails, a file lies outside the
            backed-up folders, or the backup is of another key, dialect, migration or
            data folder.
        Conflict: The deployment is not empty.
        RestoreFailed: The restored audit chain or a dataset's files do not verify.
    """
    manifest = check(source, settings.secret())
    kind = dialect(settings.db_url)
    if manifest["dialect"] != kind:
        raise InvalidRequest(
            f"the backup holds a {manifest['dialect']} database, SANDBOX_DATABASE_URL names a "
            f"{kind} one: restore into a deployment of the same database"
        )
    if manifest["alembic_revision"] != Database.head():
        raise InvalidRequest(
            f"the backup's database is at migration {manifest['alembic_revision']}, this "
            f"version's is {Database.head()}: restore with the version that took it "
            f"(sandbox {manifest['sandbox_version']}), then upgrade with `sandbox admin migrate`"
        )
    if manifest["data_dir"] != str(settings.data_dir.resolve()):
        raise InvalidRequest(
            f"the catalog names files under {manifest['data_dir']}: set SANDBOX_DATA_DIR to it"
        )
    _check_empty(settings)
    files = [e["path"] for e in manifest["files"] if e["path"] != manifest["database"]]
    targets = _targets(settings.data_dir, files)
    private_dir(settings.data_dir)
    database = source / manifest["database"]
    if kind == "sqlite":
        private_sqlite_file(settings.db_url)
        _sqlite_copy(database, _sqlite_path(settings.db_url))
    else:
        _pg_restore(settings.db_url, database)
    for relative, target in zip(files, targets, strict=True):
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _copy(source / relative, target)
    return _verify_restored(settings, manifest, actor, len(files))


def _targets(data_dir: Path, files: list[str]) -> list[Path]:
    """Where each backed-up file goes: inside the data folder, or nothing is written.

    Raises:
        InvalidRequest: A target resolves outside the data folder (a symbolic link in it).
    """
    root = data_dir.resolve()
    targets = [data_dir / f.removeprefix("files/") for f in files]
    for relative, target in zip(files, targets, strict=True):
        if not target.resolve().is_relative_to(root) or target.is_symlink():
            raise InvalidRequest(f"{relative} would be restored outside {data_dir}")
    return targets


def _verify_restored(
    settings: Settings, manifest: dict[str, Any], actor: str, files: int
) -> Restored:
    db = Database(settings.db_url, audit_key=audit.mac_key(settings.secret()))
    try:
        db.check_at_head()
        with db.session() as session:
            chain = verify_chain(
                session, settings.secret(), retired=retired_keys(settings.audit_retired_keys)
            )
            if not chain.ok:
                raise RestoreFailed(
                    f"the restored audit chain does not verify: entry {chain.broken_at}: "
                    f"{chain.reason}; keep the backup and investigate before serving"
                )
            datasets = list(session.scalars(select(Dataset).where(Dataset.withdrawn_at.is_(None))))
            bad = [d.name for d in datasets if content_sha256(d.path) != d.sha256]
            if bad:
                raise RestoreFailed(
                    f"the files of {len(bad)} dataset(s) do not match the catalog: "
                    f"{', '.join(sorted(bad))}; keep the backup and investigate before serving"
                )
            audit.append(
                db,
                session,
                actor,
                "backup.restore",
                "backup:" + manifest["created_at"],
                alembic_revision=manifest["alembic_revision"],
                files=files,
            )
        return Restored(files, chain.entries, chain.releases, len(datasets))
    finally:
        db.dispose()


def _check_empty(settings: Settings) -> None:
    """Refuse a deployment holding anything: a row in any table, or a file in the data folder."""
    for folder in FOLDERS:
        path = settings.data_dir / folder
        if path.is_dir() and any(path.iterdir()):
            raise Conflict(
                f"{path} is not empty: restore only into an empty deployment (a new data folder)"
            )
    db = Database(settings.db_url)
    try:
        with db.engine.connect() as connection:
            existing = set(inspect(connection).get_table_names())
            for table in Base.metadata.sorted_tables:
                if table.name not in existing:
                    continue
                row = connection.execute(select(literal(1)).select_from(table).limit(1)).first()
                if row is not None:
                    raise Conflict(
                        f"the database holds {table.name}: restore only into an empty database"
                    )
    finally:
        db.dispose()


def _data_files(data_dir: Path) -> Iterator[tuple[str, Path]]:
    """The regular files of the backed-up folders, relative to the data folder, sorted."""
    for folder in FOLDERS:
        root = data_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or not path.is_file() or path.name.endswith(".partial"):
                continue  # a copy being written (a release's) is not part of the state
            yield path.relative_to(data_dir).as_posix(), path


def _digest(path: Path) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _copy(source: Path, target: Path) -> dict[str, Any]:
    """Copy a file (owner-only), returning the SHA-256 and size of the bytes copied."""
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as src:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as dst:
            while block := src.read(_BLOCK):
                digest.update(block)
                size += len(block)
                dst.write(block)
            dst.flush()
            os.fsync(dst.fileno())
    return {"sha256": digest.hexdigest(), "bytes": size}


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sqlite_path(url: str) -> Path:
    name = make_url(url).database or ""
    if name in ("", ":memory:") or name.startswith("file:"):
        raise InvalidRequest("an in-memory SQLite database cannot be backed up or restored")
    return Path(name)


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy a SQLite database page by page (the online backup API: consistent while written)."""
    if not target.exists():
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    # read-write, though it only reads: a read-only connection cannot open a WAL database
    # whose -shm file is gone (no other connection open)
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise InvalidRequest(
            f"{name} is not installed: install the PostgreSQL client of the server's major "
            "version (Debian: apt-get install postgresql-client)"
        )
    return path


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(  # noqa: S603 - fixed programs, no shell
        args, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise InternalError(f"{what} failed (exit {done.returncode}): {last}")


def _pg_dump(url: str, target: Path) -> None:
    conninfo, env = libpq(url)
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    args = [_pg_tool("pg_dump"), "-Fc", "--no-owner", "--no-privileges", "-f", str(target)]
    _run([*args, "--dbname", conninfo], env, "pg_dump")


def _pg_restore(url: str, source: Path) -> None:
    """Restore into the (empty) database."""
    conninfo, env = libpq(url)
    once = ["--single-transaction", "--exit-on-error"]  # all restored, or nothing
    replace = ["--clean", "--if-exists"]  # the empty tables of an earlier migration
    args = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", *once, *replace]
    _run([*args, "--dbname", conninfo, str(source)], env, "pg_restore")
