"""Settings: the generated secret file, insecure-default refusal, and the default database."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from policies.errors import InvalidRequest
from sandbox.settings import MIN_SECRET_LENGTH, Settings

STRONG = "q7V-3xYt_9LmZ2pRk8sWf4HbNc6JdAe1Uo0GiTyE"  # 40 random-looking characters
TOKEN = "Zk2-9pQr_4TyWx7NbVc1LmJh8GfDs3Ae6UoIy0Rt"  # a metrics token as strong


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SANDBOX_* variable and no .env file of the caller may leak into a test."""
    for key in list(os.environ):
        if key.startswith("SANDBOX_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _settings(data_dir: Path, **kwargs: Any) -> Settings:
    return Settings(data_dir=data_dir, _env_file=None, **kwargs)  # type: ignore[call-arg]


def test_secret_when_first_used_then_file_created_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"  # does not exist yet
    value = _settings(data_dir).secret()
    path = data_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip().encode() == value
    assert len(value) >= MIN_SECRET_LENGTH


def test_secret_when_called_twice_then_same_value(tmp_path: Path) -> None:
    first = _settings(tmp_path).secret()
    assert _settings(tmp_path).secret() == first  # a new Settings reads the same file
    assert _settings(tmp_path / "elsewhere").secret() != first  # another deployment, another


@pytest.mark.parametrize(
    "mode",
    [
        0o644,  # world-readable
        0o604,  # world-readable, not group-readable
        0o640,  # group-readable
        0o660,  # group-writable
    ],
)
def test_secret_when_file_readable_by_others_then_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "secret_key"
    path.write_text(STRONG)
    path.chmod(mode)
    with pytest.raises(InvalidRequest, match="chmod 600"):
        _settings(tmp_path).secret()


def test_secret_when_file_holds_weak_value_then_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("changethis\n")
    path.chmod(0o600)
    with pytest.raises(InvalidRequest, match="weak"):
        _settings(tmp_path).secret()


def test_secret_when_configured_then_used_and_no_file_written(tmp_path: Path) -> None:
    assert _settings(tmp_path, secret_key=STRONG).secret() == STRONG.encode()
    assert not (tmp_path / "secret_key").exists()


def test_secret_when_weak_in_production_then_refused_but_allowed_in_development(
    tmp_path: Path,
) -> None:
    assert _settings(tmp_path, secret_key="dev").secret() == b"dev"
    with pytest.raises(InvalidRequest, match="weak"):
        _settings(tmp_path, secret_key="dev", environment="production").secret()


def test_check_secure_when_production_without_secret_then_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path, environment="production")
    with pytest.raises(InvalidRequest, match="SANDBOX_SECRET_KEY must be set"):
        settings.check_secure()
    with pytest.raises(InvalidRequest):
        Settings.load(data_dir=tmp_path, environment="production", _env_file=None)


@pytest.mark.parametrize(
    "secret",
    [
        "changethis",  # the template's placeholder
        "CHANGETHIS",  # in any case
        "password",  # a tutorial favourite
        "x" * (MIN_SECRET_LENGTH - 1),  # one character short
        "",  # empty
    ],
)
def test_check_secure_when_weak_secret_in_production_then_refused(
    tmp_path: Path, secret: str
) -> None:
    settings = _settings(tmp_path, environment="production", secret_key=secret)
    with pytest.raises(InvalidRequest, match=f"at least {MIN_SECRET_LENGTH}"):
        settings.check_secure()


@pytest.mark.parametrize(
    "secret",
    [
        STRONG,  # random characters
        "x" * MIN_SECRET_LENGTH,  # exactly the minimum length
    ],
)
def test_check_secure_when_strong_secret_in_production_then_accepted(
    tmp_path: Path, secret: str
) -> None:
    _settings(
        tmp_path, environment="production", secret_key=secret, metrics_token=TOKEN
    ).check_secure()
    loaded = Settings.load(
        data_dir=tmp_path,
        environment="production",
        secret_key=secret,
        metrics_token=TOKEN,
        _env_file=None,
    )
    assert loaded.secret() == secret.encode()


def test_check_secure_when_production_without_metrics_token_then_refused(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, environment="production", secret_key=STRONG)
    with pytest.raises(InvalidRequest, match="SANDBOX_METRICS_TOKEN must be set") as refused:
        settings.check_secure()
    assert "token_urlsafe" in str(refused.value)  # how to generate one
    with pytest.raises(InvalidRequest, match="SANDBOX_METRICS_TOKEN"):
        Settings.load(
            data_dir=tmp_path, environment="production", secret_key=STRONG, _env_file=None
        )


@pytest.mark.parametrize(
    "token",
    [
        "changethis",  # the template's placeholder
        "Secret",  # in any case
        "m" * (MIN_SECRET_LENGTH - 1),  # one character short
        "",  # empty
    ],
)
def test_check_secure_when_weak_metrics_token_in_production_then_refused(
    tmp_path: Path, token: str
) -> None:
    settings = _settings(tmp_path, environment="production", secret_key=STRONG, metrics_token=token)
    with pytest.raises(InvalidRequest, match=f"SANDBOX_METRICS_TOKEN .* {MIN_SECRET_LENGTH}"):
        settings.check_secure()


def test_check_secure_when_metrics_token_from_the_environment_then_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_ENVIRONMENT", "production")
    monkeypatch.setenv("SANDBOX_SECRET_KEY", STRONG)
    monkeypatch.setenv("SANDBOX_METRICS_TOKEN", "m" * MIN_SECRET_LENGTH)  # exactly the minimum
    loaded = Settings.load(data_dir=tmp_path, _env_file=None)
    assert loaded.metrics_token is not None
    assert loaded.metrics_token.get_secret_value() == "m" * MIN_SECRET_LENGTH


def test_check_secure_when_development_then_anything_goes(tmp_path: Path) -> None:
    _settings(tmp_path).check_secure()
    _settings(tmp_path, secret_key="changethis", host="0.0.0.0").check_secure()
    _settings(tmp_path, secret_key=STRONG, metrics_token="dev").check_secure()


@pytest.mark.parametrize(
    ("host", "database_url", "ok"),
    [
        ("127.0.0.1", None, True),  # loopback with SQLite: one machine
        ("0.0.0.0", None, False),  # reachable from other hosts with SQLite
        ("0.0.0.0", "postgresql+psycopg://db/sandbox", True),  # reachable with PostgreSQL
    ],
)
def test_check_secure_when_production_host_then_sqlite_only_on_loopback(
    tmp_path: Path, host: str, database_url: str | None, ok: bool
) -> None:
    settings = _settings(
        tmp_path,
        environment="production",
        secret_key=STRONG,
        metrics_token=TOKEN,
        host=host,
        database_url=database_url,
    )
    if ok:
        settings.check_secure()
    else:
        with pytest.raises(InvalidRequest, match="PostgreSQL"):
            settings.check_secure()


def test_db_url_when_not_set_then_sqlite_file_in_data_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data")
    assert settings.db_url == f"sqlite:///{(tmp_path / 'data' / 'sandbox.db').resolve()}"
    url = "postgresql+psycopg://db/sandbox"
    assert _settings(tmp_path, database_url=url).db_url == url


def test_settings_when_relative_data_dir_then_db_url_is_absolute(tmp_path: Path) -> None:
    assert _settings(Path("rel")).db_url == f"sqlite:///{tmp_path.resolve() / 'rel' / 'sandbox.db'}"


def test_settings_when_environment_variable_set_then_read_with_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_ENVIRONMENT", "production")
    monkeypatch.setenv("PORT", "1234")  # no prefix: ignored
    settings = _settings(tmp_path)
    assert settings.environment == "production"
    assert settings.port == 8000


def test_secret_when_many_processes_start_at_once_then_all_read_one_complete_secret(
    tmp_path: Path,
) -> None:
    import threading

    results: list[bytes] = []
    barrier = threading.Barrier(16)

    def start() -> None:
        barrier.wait()
        results.append(Settings(data_dir=tmp_path, _env_file=None).secret())  # type: ignore[call-arg]

    threads = [threading.Thread(target=start) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16 and len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left


@pytest.mark.parametrize(
    ("environment", "setting", "migrates"),
    [
        ("development", None, True),  # a laptop migrates at start, as always
        ("production", None, False),  # production migrates in a Job, never at start
        ("production", True, True),  # a single-process production install may opt in
        ("development", False, False),  # a developer may rehearse the production start
    ],
)
def test_migrates_on_start_when_unset_then_development_only(
    tmp_path: Path, environment: str, setting: bool | None, migrates: bool
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        environment=environment,
        migrate_on_start=setting,  # type: ignore[arg-type]
    )
    assert settings.migrates_on_start is migrates


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("s3://bucket/prefix/", True),  # the trailing slash is dropped
        ("s3://bucket", True),  # the bucket's root
        ("/srv/data", False),  # a folder is SANDBOX_DATA_DIR's job
        ("s3://key:secret@bucket/p", False),  # credentials never in the setting
        ("s3:///prefix", False),  # no bucket
    ],
)
def test_settings_when_storage_url_given_then_only_a_bucket_url(
    url: str, valid: bool, tmp_path: Path
):
    if not valid:
        with pytest.raises(ValueError, match="s3://bucket/prefix"):
            _settings(tmp_path, storage_url=url)
        return
    settings = _settings(tmp_path, storage_url=url)
    root = url.rstrip("/")
    assert settings.datasets_location == f"{root}/datasets"
    assert settings.quarantine_location == f"{root}/quarantine"
    assert settings.releases_location == f"{root}/releases"


def test_settings_when_no_storage_url_then_the_data_folder(tmp_path: Path):
    settings = _settings(tmp_path)
    assert settings.datasets_location == str((tmp_path / "datasets").resolve())
    assert not settings.releases_location.startswith("s3://")
