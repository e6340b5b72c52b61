"""A steward's upload kept between the PII scan's proposals and the confirmed ingest.

The console ingests in two steps: the file is uploaded and scanned (the proposed
tags are shown), then the steward confirms the metadata. Between the two the file
waits in the data folder's uploads area (where the API's uploads pass too) as
``console-<id>.upload``, mode 0600, beside ``console-<id>.json``: the SHA-256 of the
console session that uploaded it (never the session id), the steward, the time,
the file's name and the proposals (tags, rules and evidence counts; no value of the
file). The id is 128 random bits, written in hex, and checked before it names a
path; a staged upload is found only by the session that made it, and only for
:data:`TTL_S` seconds. Expired ones are removed whenever another is staged, and a
confirmed one at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from policies.errors import InvalidRequest, NotFound
from sandbox.catalog import datasets as catalog
from sandbox.settings import Settings
from sandbox.web.console.i18n import gettext

#: How long a staged upload waits for its confirmation.
TTL_S = 3600.0
#: Longest file name kept for display.
MAX_FILENAME = 200
_PREFIX = "console-"
_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class Staged:
    """An uploaded file waiting for its ingest to be confirmed."""

    id: str
    path: Path
    filename: str
    #: Column -> ``{"tag", "rule", "evidence"}``, in the file's column order.
    proposals: dict[str, dict[str, Any]]
    created: float

    @property
    def columns(self) -> list[str]:
        """The file's columns, in order."""
        return list(self.proposals)


def _folder(settings: Settings) -> Path:
    folder = settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _owner(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _paths(folder: Path, stage_id: str) -> tuple[Path, Path]:
    return folder / f"{_PREFIX}{stage_id}.upload", folder / f"{_PREFIX}{stage_id}.json"


def _private(path: Path) -> None:
    """Create ``path`` empty, readable by the service alone."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def stage(
    settings: Settings,
    session_id: str,
    user_id: int,
    stream: IO[bytes],
    filename: str,
    *,
    now: float | None = None,
) -> Staged:
    """Copy an upload into the uploads area, scan it and keep it for its session.

    Raises:
        InvalidRequest: No file, one over ``SANDBOX_MAX_UPLOAD_BYTES``, or one that is
            neither CSV (UTF-8, GB18030/GBK) nor Parquet, malformed or too wide.
    """
    now = time.time() if now is None else now
    folder = _folder(settings)
    purge(settings, now=now)
    stage_id = secrets.token_hex(16)
    upload, meta = _paths(folder, stage_id)
    _private(upload)
    try:
        if not catalog.copy_upload(stream, upload, settings.max_upload_bytes):
            raise InvalidRequest(gettext("the file is empty: choose a CSV or Parquet file"))
        proposals = {
            column: {"tag": p.tag.value, "rule": p.rule, "evidence": p.evidence}
            for column, p in catalog.propose(upload, settings).items()
        }
        _private(meta)
        meta.write_text(
            json.dumps(
                {
                    "owner": _owner(session_id),
                    "user": user_id,
                    "created": now,
                    "filename": filename[:MAX_FILENAME],
                    "proposals": proposals,
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
    except BaseException:
        upload.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)
        raise
    return Staged(stage_id, upload, filename[:MAX_FILENAME], proposals, now)


def gone() -> NotFound:
    """The error of a staged upload that is not (or no longer) there for this session."""
    return NotFound(
        gettext(
            "the uploaded file is no longer here (it waits one hour, and only for the "
            "session that uploaded it); upload it again"
        )
    )


def load(settings: Settings, stage_id: str, session_id: str, *, now: float | None = None) -> Staged:
    """The staged upload ``stage_id`` of this session.

    Raises:
        NotFound: No such upload for this session (another session's reads as none),
            or it expired (it is then removed).
    """
    now = time.time() if now is None else now
    if not _ID.fullmatch(stage_id):
        raise gone()
    upload, meta = _paths(_folder(settings), stage_id)
    try:
        held = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise gone() from None
    if not secrets.compare_digest(str(held.get("owner", "")), _owner(session_id)):
        raise gone()
    if now - float(held["created"]) > TTL_S or not upload.is_file():
        drop(settings, stage_id)
        raise gone()
    return Staged(stage_id, upload, str(held["filename"]), dict(held["proposals"]), held["created"])


def drop(settings: Settings, stage_id: str) -> None:
    """Remove a staged upload (confirmed, discarded or expired); unknown ids are ignored."""
    if _ID.fullmatch(stage_id):
        for path in _paths(_folder(settings), stage_id):
            path.unlink(missing_ok=True)


def purge(settings: Settings, *, now: float | None = None) -> int:
    """Remove staged files older than :data:`TTL_S` (by file time, also a file left
    alone by a crash between the two); return how many files."""
    now = time.time() if now is None else now
    removed = 0
    for path in _folder(settings).glob(f"{_PREFIX}*"):
        try:
            if now - path.stat().st_mtime > TTL_S:
                path.unlink(missing_ok=True)
                removed += 1
        except OSError:
            continue
    return removed
