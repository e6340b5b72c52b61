"""Released files: publishing a committed release, and recovery at start.

A release's manifest commits first (:mod:`sandbox.airlock.review`); its file is then
copied out of quarantine into ``releases/`` (:func:`publish`, idempotent). A
crash between the two leaves a committed release without its file, never a
file without a release; :func:`recover_releases` finishes such releases and
removes what no committed release names. Recovery may run while another
process serves requests (a second API process, a rolling restart): it runs
under a lock (an advisory lock on PostgreSQL, SQLite's write lock), asks the
release table again right before removing a file, and leaves young temporary
copies alone (another process may still be writing them).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from jobs import storage
from policies.errors import InternalError
from sandbox.audit import chain as audit
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import Release

log = logging.getLogger(__name__)

#: A temporary copy younger than this may still be being written by another process.
PARTIAL_GRACE_SECONDS = 15 * 60
#: PostgreSQL advisory lock key: one release recovery at a time.
RECOVERY_LOCK_KEY = 0x5A4E_4E1E
_RELEASED_NAME = re.compile(r"job-(\d+)\.[A-Za-z0-9]+")


def stale(settings: Settings, name: str, sha256: str) -> str | None:
    """Why the released file must be published (again), or None when it is in place.

    Returns:
        ``"missing"`` (absent, or not a regular file), ``"hash mismatch"``, or None.
    """
    location = storage.join(settings.releases_location, name)
    if storage.is_remote(location):
        if not storage.exists(location):
            return "missing"
    else:
        released = Path(location)
        if released.is_symlink() or not released.is_file():
            return "missing"
    if storage.sha256(location) != sha256:
        return "hash mismatch"
    return None


def quarantined(settings: Settings, name: str, sha256: str) -> str | None:
    """The quarantined file a release named ``name`` (``job-N.<suffix>``) copies: the run's
    attempt file (``job-N-a<k>.<suffix>``, see :mod:`sandbox.jobs.queue`) or, for outputs
    written before leases, ``name`` itself; the one whose SHA-256 is ``sha256``, or None."""
    found = _RELEASED_NAME.fullmatch(name)
    if found is None:
        return None
    suffix = name[name.index(".") :]
    folder = settings.quarantine_location
    candidates = [storage.join(folder, name)]
    candidates += storage.glob(storage.join(folder, f"job-{found.group(1)}-a*{suffix}"))
    for source in candidates:
        if storage.is_remote(source):
            present = storage.exists(source)
        else:
            present = Path(source).is_file() and not Path(source).is_symlink()
        if present and storage.sha256(source) == sha256:
            return source
    return None


def publish(settings: Settings, name: str, sha256: str) -> str:
    """Copy a committed release's file out of quarantine into ``releases/``; idempotent.

    The copy is written to a temporary file, flushed to disk and renamed into
    place, so ``releases/`` holds either nothing or the whole file under its name.
    In object storage the copy is one server-side copy: the object appears whole.

    Args:
        settings: Where quarantine and releases are.
        name: The file's name (``job-N.<suffix>``), the same in both folders.
        sha256: The output's recorded SHA-256.

    Returns:
        The released file's location.

    Raises:
        InternalError: The quarantined output is gone or changed.
    """
    location = storage.join(settings.releases_location, name)
    if stale(settings, name, sha256) is None:
        return location
    source = quarantined(settings, name, sha256)
    if source is None:
        raise InternalError(f"the quarantined output of {name} is missing or changed")
    if storage.is_remote(location):
        storage.copy(source, location)
        return location
    released = Path(location)
    settings.releases_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=settings.releases_dir, prefix=f".{name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out, storage.open_input(source) as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, released)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(settings.releases_dir)
    return location


def local_output(cache: Path, location: str | None, sha256: str | None) -> Path | None:
    """A local file of a stored output to show or send, or None when it is gone.

    A local output is itself; an object in object storage is served from a copy in
    ``cache`` checked against ``sha256`` (:func:`jobs.storage.cached`).
    """
    if not location:
        return None
    if not storage.is_remote(location):
        path = Path(location)
        return path if path.is_file() else None
    if not sha256:
        return None
    try:
        return storage.cached(location, sha256, cache)
    except FileNotFoundError:
        return None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _released(session: Session, name: str) -> bool:
    """Whether a committed release names the file ``name`` (asked afresh)."""
    found = _RELEASED_NAME.fullmatch(name)
    if found is None:
        return False
    release = session.scalar(select(Release).where(Release.job_id == int(found[1])))
    return release is not None and release.manifest.get("output", {}).get("file") == name


def _young_partial(location: str) -> bool:
    if storage.is_remote(location):
        return False  # object storage holds no partial copies
    path = Path(location)
    if not path.name.endswith(".partial") or path.is_symlink() or not path.is_file():
        return False
    return time.time() - path.stat().st_mtime < PARTIAL_GRACE_SECONDS


def _remove(location: str) -> None:
    path = Path(location)
    if storage.is_remote(location) or path.is_symlink() or not path.is_dir():
        storage.delete(location)  # a symlink is removed, never followed
    else:
        shutil.rmtree(path)


def _entries(folder: str) -> list[str]:
    """Everything in the releases folder (or prefix)."""
    if storage.is_remote(folder):
        return storage.glob(storage.join(folder, "*"))
    path = Path(folder)
    return sorted(str(p) for p in path.iterdir()) if path.is_dir() else []


def recover_releases(db: Database, settings: Settings) -> tuple[list[int], list[str]]:
    """Finish releases an interrupted process committed, remove files nothing released.

    Run at start, before requests are served: every committed release gets
    its file with the recorded SHA-256 (copied again from quarantine where
    missing or changed); every other entry in ``releases/`` (old temporary
    copies, a file of a release whose transaction never committed, a
    symlink) is removed, unless a release committed meanwhile names it or it
    is a temporary copy younger than :data:`PARTIAL_GRACE_SECONDS`. What was
    done is audited.

    Returns:
        (job ids whose file was published now, names of the entries removed).
    """
    folder = settings.releases_location
    published: list[int] = []
    removed: list[str] = []
    with db.session() as session:
        if not db.is_sqlite:  # SQLite: BEGIN IMMEDIATE already holds the write lock
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RECOVERY_LOCK_KEY})
        expected: dict[str, tuple[int, str]] = {}
        for r in session.scalars(select(Release).order_by(Release.job_id)):
            output = r.manifest.get("output", {})
            expected[str(output.get("file", ""))] = (r.job_id, str(output.get("sha256", "")))
        for name, (job_id, sha256) in expected.items():
            if stale(settings, name, sha256) is None:
                continue
            try:
                publish(settings, name, sha256)
            except (InternalError, OSError) as err:
                log.error(
                    "job %s: released, but its file could not be published (%s)",
                    job_id,
                    type(err).__name__,
                )
                continue
            published.append(job_id)
        for entry in _entries(folder):
            name = storage.name(entry)
            if name in expected or _young_partial(entry):
                continue
            if _released(session, name):  # committed by another process meanwhile
                continue
            _remove(entry)
            removed.append(name)
        if published or removed:
            audit.append(
                db,
                session,
                "system",
                "release.recover",
                "releases",
                published=published,
                removed=removed,
            )
    return published, removed
