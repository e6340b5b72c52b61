"""Datasets, quarantine and releases in S3-compatible object storage (moto's server).

``SANDBOX_STORAGE_URL=s3://bucket/prefix``: ingest puts partitions as objects,
jobs read them and file their outputs in quarantine there, a release is a
server-side copy, a download is served from a checked local copy. Nothing of
it lands in the data folder's ``datasets``, ``quarantine`` or ``releases``.
Each test fails on the code before object storage (it wrote local folders only).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from jobs import storage
from policies.airlock import Decision
from policies.budget import PrivacyBudget
from policies.catalog import ColumnTag, Grade, OpenAttribute
from policies.roles import OrgKind, Role
from sandbox.access import auth, grants
from sandbox.access.auth import Principal
from sandbox.airlock.releases import local_output
from sandbox.airlock.review import download, review
from sandbox.audit import chain as audit
from sandbox.catalog import datasets as catalog
from sandbox.catalog.withdraw import delete_files
from sandbox.jobs.service import JobService
from sandbox.service.retention import sweep
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import Job
from tests.factories import PUBLIC_KEYS, TAGS, aggregate_spec, residents
from tests.integration.test_kinds_api import _train_spec
from tests.integration.test_store import SECRET, InProcessRunner
from tests.moto_s3 import environment, new_bucket, s3_server


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as url:
        yield url


@pytest.fixture
def store_url(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; this process reaches it through its environment only."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for key, value in environment(endpoint).items():
        monkeypatch.setenv(key, value)
    return f"s3://{new_bucket(endpoint)}/sandbox"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, audit_key=audit.mac_key(SECRET))
    database.migrate()
    yield database
    database.dispose()


def _world(
    db: Database, tmp_path: Path, store_url: str, kinds: tuple[str, ...] = ("aggregate",)
) -> tuple[Settings, Principal, Principal, int]:
    settings = Settings(data_dir=tmp_path / "data", database_url=db.url, storage_url=store_url)
    settings = settings.model_copy(update={"rows_per_partition": 150})
    with db.session() as s:
        bureau = auth.create_org(db, s, "test", "bureau", OrgKind.BUREAU)
        firm = auth.create_org(db, s, "test", "firm", OrgKind.OPERATOR)
        steward, _ = auth.create_user(db, s, "test", "steward", Role.STEWARD, bureau.id)
        analyst, _ = auth.create_user(db, s, "test", "analyst", Role.OPERATOR, firm.id)
        ids = steward.id, bureau.id, analyst.id, firm.id
    upload = tmp_path / "residents.csv"
    residents().write_csv(upload)
    catalog.ingest(
        db,
        settings,
        "test",
        ids[0],
        upload,
        catalog.IngestRequest(
            name="residents",
            source="test",
            open_attribute=OpenAttribute.UNCONDITIONAL,
            grade=Grade.GENERAL,
            tags={k: ColumnTag(v) for k, v in TAGS.items()},
            privacy_unit="resident_id",
            public_keys=PUBLIC_KEYS,
        ),
    )
    with db.session() as s:
        grant = grants.create(
            db,
            s,
            "test",
            ids[0],
            org_id=ids[3],
            datasets=["residents"],
            purpose="",
            kinds=list(kinds),
            budget=PrivacyBudget(3.0),
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            commitment_required=False,
        )
        grant_id = grant.id
    steward_ = Principal(ids[0], "steward", Role.STEWARD, ids[1], "bureau")
    analyst_ = Principal(ids[2], "analyst", Role.OPERATOR, ids[3], "firm")
    return settings, steward_, analyst_, grant_id


def _awaiting(
    db: Database, tmp_path: Path, store_url: str
) -> tuple[Settings, Principal, Principal, int, str, str]:
    """One aggregate job run in process into S3 quarantine, awaiting review."""
    settings, steward, analyst, grant_id = _world(db, tmp_path, store_url)
    service = JobService(db, settings, InProcessRunner(), workers=1, untimed_workers=0)
    job = service.submit(analyst, grant_id, aggregate_spec(epsilon=0.5))
    service.shutdown(wait=True)
    with db.session() as s:
        row = s.get(Job, job.id)
        assert row is not None and row.status == "awaiting_review", row.error
        assert row.output_path is not None and row.output_sha256 is not None
        return settings, steward, analyst, job.id, row.output_path, row.output_sha256


def _no_local_data(settings: Settings) -> None:
    for folder in (settings.datasets_dir, settings.quarantine_dir, settings.releases_dir):
        assert not folder.exists() or not any(folder.iterdir()), folder


def test_storage_when_s3_then_put_list_read_copy_and_delete_round_trip(
    store_url: str, tmp_path: Path
):
    local = tmp_path / "x.parquet"
    pl.DataFrame({"a": [1, 2, 3]}).write_parquet(local)
    for i in range(3):
        storage.put_file(local, storage.join(store_url, "d", f"part-{i:05d}.parquet"))
    files = storage.glob(storage.join(store_url, "d", "part-*.parquet"))
    assert [storage.name(f) for f in files] == [f"part-{i:05d}.parquet" for i in range(3)]
    assert storage.scan_parquet(files).select(pl.len()).collect().item() == 9
    digest = storage.sha256(files[0])
    assert digest == storage.sha256(str(local))
    storage.copy(files[0], storage.join(store_url, "r", "x.parquet"))
    cached = storage.cached(storage.join(store_url, "r", "x.parquet"), digest, tmp_path / "c")
    assert cached is not None and cached.read_bytes() == local.read_bytes()
    assert storage.cached(files[1], "0" * 64, tmp_path / "c") is None  # a wrong hash: refused
    # a copy is served only while its object is stored (retention, withdrawal)
    storage.delete(storage.join(store_url, "r", "x.parquet"))
    assert storage.cached(storage.join(store_url, "r", "x.parquet"), digest, tmp_path / "c") is None
    assert not cached.exists()
    # copies not read for CACHE_HOURS go when another is made
    stale = tmp_path / "c" / ("f" * 64)
    stale.mkdir(parents=True)
    (stale / "old.parquet").write_bytes(b"x")
    os.utime(stale / "old.parquet", (0, 0))
    assert storage.cached(files[0], digest, tmp_path / "c") is not None
    assert not stale.exists()
    assert storage.delete_tree(storage.join(store_url, "d"))
    assert storage.glob(storage.join(store_url, "d", "*")) == []
    assert not storage.delete(storage.join(store_url, "d", "part-00000.parquet"))


def test_put_file_when_the_copy_breaks_off_then_no_object_is_left(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(3 << 20))
    target = storage.join(store_url, "broken", "big.bin")

    def broken(src: Any, out: Any, length: int = 0) -> None:
        out.write(src.read(1 << 20))
        raise KeyboardInterrupt

    monkeypatch.setattr(storage.shutil, "copyfileobj", broken)
    with pytest.raises(KeyboardInterrupt):
        storage.put_file(local, target)
    assert not storage.exists(target)


def test_ingest_when_storage_is_s3_then_partitions_are_objects_and_read_back(
    db: Database, tmp_path: Path, store_url: str
):
    settings, *_ = _world(db, tmp_path, store_url)
    with db.session() as s:
        dataset = catalog.get(s, "residents")
        path, sha256, partitions = dataset.path, dataset.sha256, dataset.partitions
    assert path.startswith(f"{store_url}/datasets/residents-")
    files = catalog.dataset_files(path)
    assert partitions == len(files) == 4  # 600 rows / 150 per partition
    seen: dict[str, int] = {}
    for i, f in enumerate(files):  # each person's rows in one partition object
        for unit in storage.scan_parquet(f).collect()["resident_id"].unique():
            assert seen.setdefault(unit, i) == i
    assert catalog.scan_dataset(path).select(pl.len()).collect().item() == 600
    assert catalog.content_sha256(path) == sha256
    _no_local_data(settings)
    assert not (settings.data_dir / "uploads" / storage.name(path)).exists()  # staging gone
    with db.session() as s:
        assert delete_files(settings, catalog.get(s, "residents"))
    assert catalog.dataset_files(path) == []


def test_job_when_storage_is_s3_then_quarantined_released_and_downloaded_from_it(
    db: Database, tmp_path: Path, store_url: str
):
    settings, steward, analyst, job_id, quarantined, sha256 = _awaiting(db, tmp_path, store_url)
    with db.session() as s:
        row = s.get(Job, job_id)
        assert row is not None
        assert {c["name"] for c in row.report["checks"]}  # the checks read the object
    assert quarantined == f"{store_url}/quarantine/job-{job_id}-a1.parquet"
    assert storage.sha256(quarantined) == sha256
    review(db, settings, steward, job_id, Decision.APPROVE, "aggregates only: fine")
    released = f"{store_url}/releases/job-{job_id}.parquet"
    assert storage.sha256(released) == sha256
    got = download(db, analyst, job_id, settings)
    assert got.sha256 == sha256 and got.filename == f"job-{job_id}.parquet"
    assert pl.read_parquet(got.path).height == 3  # the three cities
    storage.delete(released)  # a lost object: the next download publishes it again
    assert download(db, analyst, job_id, settings).sha256 == sha256
    assert storage.sha256(released) == sha256
    _no_local_data(settings)


def test_extract_when_storage_is_s3_then_its_output_is_an_object_in_quarantine(
    db: Database, tmp_path: Path, store_url: str
):
    settings, _, analyst, grant_id = _world(db, tmp_path, store_url, kinds=("extract",))
    service = JobService(db, settings, InProcessRunner(), workers=1, untimed_workers=0)
    spec = {"kind": "extract", "dataset": "residents", "columns": ["city", "age"], "k": 5}
    job = service.submit(analyst, grant_id, spec)
    service.shutdown(wait=True)
    with db.session() as s:
        row = s.get(Job, job.id)
        assert row is not None and row.status == "awaiting_review", row.error
        output, sha256 = row.output_path, row.output_sha256
    assert output == f"{store_url}/quarantine/job-{job.id}-a1.parquet"
    assert storage.sha256(output) == sha256
    assert storage.scan_parquet(output).collect().columns == ["city", "age"]
    _no_local_data(settings)


def test_train_when_storage_is_s3_then_model_quarantined_released_and_downloaded_from_it(
    db: Database, tmp_path: Path, store_url: str
):
    settings, steward, analyst, grant_id = _world(db, tmp_path, store_url, kinds=("train",))
    service = JobService(db, settings, InProcessRunner(), workers=1, untimed_workers=0)
    job = service.submit(analyst, grant_id, _train_spec())
    service.shutdown(wait=True)
    with db.session() as s:
        row = s.get(Job, job.id)
        assert row is not None and row.status == "awaiting_review", row.error
        output, sha256 = row.output_path, row.output_sha256
    assert output is not None and output.startswith(f"{store_url}/quarantine/job-{job.id}-a1.")
    assert storage.sha256(output) == sha256
    review(db, settings, steward, job.id, Decision.APPROVE, "a small model: fine")
    got = download(db, analyst, job.id, settings)
    assert got.sha256 == sha256
    assert got.path.read_bytes()  # the model file itself, published from the bucket
    _no_local_data(settings)


def test_retention_when_storage_is_s3_then_a_rejected_output_object_is_deleted(
    db: Database, tmp_path: Path, store_url: str
):
    settings, steward, _analyst, job_id, quarantined, sha256 = _awaiting(db, tmp_path, store_url)
    cache = tmp_path / "cache"
    shown = local_output(cache, quarantined, sha256)  # what the console previews
    assert shown is not None and storage.sha256(str(shown)) == sha256
    review(db, settings, steward, job_id, Decision.REJECT, "not this one")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=settings.retention_days + 1)
    assert sweep(db, settings, later) == 1
    assert storage.glob(f"{store_url}/quarantine/*") == []
    assert local_output(tmp_path / "other", quarantined, sha256) is None  # gone: nothing shown
