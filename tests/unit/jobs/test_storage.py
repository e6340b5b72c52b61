"""jobs.storage on local paths, and where S3 credentials come from (no server needed)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jobs import storage


def test_storage_when_local_then_put_list_read_cache_and_delete(tmp_path: Path):
    source = tmp_path / "x.parquet"
    pl.DataFrame({"a": [1, 2]}).write_parquet(source)
    folder = str(tmp_path / "store" / "d")
    for i in range(2):
        storage.put_file(source, storage.join(folder, f"part-{i:05d}.parquet"))
    files = storage.glob(storage.join(folder, "part-*.parquet"))
    assert [storage.name(f) for f in files] == ["part-00000.parquet", "part-00001.parquet"]
    assert not list(Path(folder).glob("*.partial"))  # written aside, renamed into place
    assert storage.scan_parquet(files).select(pl.len()).collect().item() == 4
    digest = storage.sha256(files[0])
    assert storage.cached(files[0], digest, tmp_path / "cache") == Path(files[0])  # itself
    assert storage.cached(files[0], "0" * 64, tmp_path / "cache") is None
    assert storage.delete(files[0]) and not storage.delete(files[0])
    assert storage.delete_tree(folder) and not Path(folder).exists()


def test_s3_access_when_given_as_files_then_read_and_never_shown(tmp_path: Path):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-value\n")
    access = storage.S3Access.from_environment(
        {
            "AWS_ACCESS_KEY_ID": "key-id-value",
            "AWS_SECRET_ACCESS_KEY_FILE": str(secret),
            "AWS_DEFAULT_REGION": "cn-east-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        }
    )
    assert (access.access_key, access.secret_key) == ("key-id-value", "s3cr3t-value")
    assert access.region == "cn-east-1"
    assert "s3cr3t" not in repr(access) and "key-id-value" not in repr(access)
    options = storage.polars_options("s3://bucket/x")
    assert options is not None and storage.polars_options("/srv/x") is None


def test_environment_when_asked_then_only_the_storage_variables():
    env = {"AWS_ENDPOINT_URL": "http://s3", "AWS_SECRET_ACCESS_KEY_FILE": "/run/s", "HOME": "/"}
    assert storage.environment(env) == {
        "AWS_ENDPOINT_URL": "http://s3",
        "AWS_SECRET_ACCESS_KEY_FILE": "/run/s",
    }
