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


SECRET = b"s" * 40


def _write(folder: Path, manifest: dict[str, object], *, mac: bool = True) -> None:
    """A manifest, its SHA-256 and (unless ``mac`` is False) its MAC under :data:`SECRET`."""
    folder.mkdir(exist_ok=True)
    manifest = {
        "format": backups.FORMAT,
        "dialect": "sqlite",
        "database": "database.sqlite3",
        "key_fingerprint": backups.key_fingerprint(SECRET),
    } | manifest
    text = json.dumps(manifest).encode()
    (folder / backups.MANIFEST).write_bytes(text)
    (folder / backups.MANIFEST_SUM).write_text(f"{hashlib.sha256(text).hexdigest()}  x\n")
    (folder / backups.MANIFEST_MAC).unlink(missing_ok=True)
    if mac:
        (folder / backups.MANIFEST_MAC).write_text(backups.manifest_mac(SECRET, text))


def _entry(path: str, data: bytes) -> dict[str, object]:
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


DB = _entry("database.sqlite3", b"data")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([DB, {"path": "../outside", "sha256": "0" * 64, "bytes": 0}], "outside"),
        ([DB, {"path": "files/datasets/missing", "sha256": "0" * 64, "bytes": 0}], "lacks"),
        ([{"path": "database.sqlite3", "sha256": "0" * 64, "bytes": 4}], "does not match"),
        # an entry that stays inside the backup but is restored outside the data folder
        ([DB, _entry("files/../outside", b"")], "outside the backed-up folders"),
        ([DB, _entry("files/datasets/../../outside", b"")], "outside the backed-up folders"),
        ([DB, _entry("files/secret_key", b"")], "outside the backed-up folders"),
        ([DB, _entry("files/datasets//x", b"")], "outside the backed-up folders"),
        ([DB, _entry("files/./datasets/x", b"")], "outside the backed-up folders"),
        ([DB, _entry("database.sqlite3", b"data")], "each file once"),
        ([_entry("files/datasets/x", b"")], "database.sqlite3 once"),
    ],
)
def test_check_when_manifest_names_a_bad_file_then_refused(
    tmp_path: Path, files: list[dict[str, object]], message: str
):
    folder = tmp_path / "backup"
    _write(folder, {"files": files})
    (folder / "database.sqlite3").write_bytes(b"data")
    (tmp_path / "outside").write_bytes(b"")
    (folder / "files" / "datasets").mkdir(parents=True)
    (folder / "files" / "datasets" / "x").write_bytes(b"")
    (folder / "files" / "secret_key").write_bytes(b"")
    with pytest.raises(InvalidRequest, match=message):
        backups.check(folder, SECRET)


def test_check_when_entry_is_absolute_then_refused(tmp_path: Path):
    folder = tmp_path / "backup"
    outside = tmp_path / "outside"
    outside.write_bytes(b"")
    _write(folder, {"files": [DB, _entry(str(outside), b"")]})
    (folder / "database.sqlite3").write_bytes(b"data")
    with pytest.raises(InvalidRequest, match="outside"):
        backups.check(folder, SECRET)


def test_check_when_a_folder_is_a_symbolic_link_then_refused(tmp_path: Path):
    folder = tmp_path / "backup"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x").write_bytes(b"")
    _write(folder, {"files": [DB, _entry("files/datasets/x", b"")]})
    (folder / "database.sqlite3").write_bytes(b"data")
    (folder / "files").mkdir()
    (folder / "files" / "datasets").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidRequest, match="symbolic link"):
        backups.check(folder, SECRET)


@pytest.mark.parametrize(
    "fields",
    [
        {"database": "files/datasets/x"},  # another listed file as the database
        {"database": "../database.sqlite3"},
        {"database": "database.pgdump"},  # not the dialect's
        {"dialect": "mysql"},
    ],
)
def test_check_when_database_is_not_the_dialects_file_then_refused(
    tmp_path: Path, fields: dict[str, object]
):
    folder = tmp_path / "backup"
    _write(folder, {"files": [DB, _entry("files/datasets/x", b"")]} | fields)
    (folder / "database.sqlite3").write_bytes(b"data")
    (folder / "files" / "datasets").mkdir(parents=True)
    (folder / "files" / "datasets" / "x").write_bytes(b"")
    with pytest.raises(InvalidRequest, match="database"):
        backups.check(folder, SECRET)


def test_check_when_manifest_rewritten_with_its_sha256_but_no_valid_mac_then_refused(
    tmp_path: Path,
):
    folder = tmp_path / "backup"
    (folder / "files" / "datasets").mkdir(parents=True)
    (folder / "files" / "datasets" / "x").write_bytes(b"")
    (folder / "database.sqlite3").write_bytes(b"data")
    _write(folder, {"files": [DB]})
    assert backups.check(folder, SECRET)["files"] == [DB]
    mac = (folder / backups.MANIFEST_MAC).read_text()
    # a file added, the SHA-256 recomputed, the old MAC kept
    _write(folder, {"files": [DB, _entry("files/datasets/x", b"")]}, mac=False)
    (folder / backups.MANIFEST_MAC).write_text(mac)
    with pytest.raises(InvalidRequest, match="altered"):
        backups.check(folder, SECRET)
    (folder / backups.MANIFEST_MAC).unlink()  # ...or no MAC at all
    with pytest.raises(InvalidRequest, match="altered"):
        backups.check(folder, SECRET)


def test_manifest_key_when_derived_then_apart_from_the_audit_key():
    assert backups.manifest_key(SECRET) != audit.mac_key(SECRET)
    assert backups.manifest_key(SECRET) != SECRET
    assert backups.manifest_key(SECRET) != backups.manifest_key(b"t" * 40)


def test_check_when_no_manifest_or_another_format_then_refused(tmp_path: Path):
    with pytest.raises(InvalidRequest, match="holds no backup"):
        backups.check(tmp_path, SECRET)
    _write(tmp_path, {"format": 99, "files": []})
    with pytest.raises(InvalidRequest, match="format 99"):
        backups.check(tmp_path, SECRET)
