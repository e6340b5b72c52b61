"""Backup pieces that need no deployment: the libpq URL, the key fingerprint, the checks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from policies.errors import InvalidRequest
from sandbox.audit import chain as audit
from sandbox.service import backup as backups


@pytest.mark.parametrize(
    ("url", "conninfo", "env"),
    [
        # no password: none in the environment either
        ("postgresql+psycopg://app@db/sandbox", "postgresql://app@db/sandbox", {}),
        # a password with URL-special characters reaches PGPASSWORD decoded, never argv
        (
            "postgresql+psycopg://app:p%40ss%2Fw@db:6432/sandbox",
            "postgresql://app@db:6432/sandbox",
            {"PGPASSWORD": "p@ss/w"},
        ),
        # libpq options stay in the URI
        (
            "postgresql+psycopg://app:pw@/sandbox?host=/run/postgresql",
            "postgresql://app@/sandbox?host=%2Frun%2Fpostgresql",
            {"PGPASSWORD": "pw"},
        ),
    ],
)
def test_libpq_when_url_has_a_password_then_it_moves_to_the_environment(
    url: str, conninfo: str, env: dict[str, str]
):
    assert backups.libpq(url) == (conninfo, env)


def test_key_fingerprint_when_computed_then_it_is_the_audit_entries_key_id():
    secret = b"s" * 40
    assert backups.key_fingerprint(secret) == audit.key_id(audit.mac_key(secret))
    assert backups.key_fingerprint(secret) != backups.key_fingerprint(b"t" * 40)


def _write(folder: Path, manifest: dict[str, object]) -> None:
    folder.mkdir(exist_ok=True)
    text = json.dumps(manifest).encode()
    (folder / backups.MANIFEST).write_bytes(text)
    (folder / backups.MANIFEST_SUM).write_text(f"{hashlib.sha256(text).hexdigest()}  x\n")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([{"path": "../outside", "sha256": "0" * 64, "bytes": 0}], "outside the backup"),
        ([{"path": "files/missing", "sha256": "0" * 64, "bytes": 0}], "lacks files/missing"),
        ([{"path": "database.sqlite3", "sha256": "0" * 64, "bytes": 4}], "does not match"),
    ],
)
def test_check_when_manifest_names_a_bad_file_then_refused(
    tmp_path: Path, files: list[dict[str, object]], message: str
):
    folder = tmp_path / "backup"
    _write(folder, {"format": backups.FORMAT, "files": files})
    (folder / "database.sqlite3").write_bytes(b"data")
    (tmp_path / "outside").write_bytes(b"")
    with pytest.raises(InvalidRequest, match=message):
        backups.check(folder)


def test_check_when_no_manifest_or_another_format_then_refused(tmp_path: Path):
    with pytest.raises(InvalidRequest, match="holds no backup"):
        backups.check(tmp_path)
    _write(tmp_path, {"format": 99, "files": []})
    with pytest.raises(InvalidRequest, match="format 99"):
        backups.check(tmp_path)
