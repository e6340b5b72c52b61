"""The catalog's part of a withdrawal: the reason, the tombstone, what it refuses, the files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from policies.errors import Conflict, InvalidRequest
from policies.roles import Role
from sandbox.catalog.withdraw import check_reason, check_usable, delete_files, mark, visible
from sandbox.settings import Settings
from sandbox.store.models import Dataset

WHEN = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def _dataset(name: str = "residents", path: str = "") -> Dataset:
    return Dataset(name=name, path=path, withdrawn_at=None, withdrawn_reason="")


@pytest.mark.parametrize("reason", ["", "    ", "同", " n "])
def test_check_reason_when_shorter_than_the_minimum_then_refused(reason: str):
    with pytest.raises(InvalidRequest, match="at least 2 characters"):
        check_reason(reason)


@pytest.mark.parametrize("reason", ["同意", " 撤回 ", "no"])
def test_check_reason_when_two_characters_then_accepted(reason: str):
    check_reason(reason)  # a reason in Chinese is short: two characters will do


def test_mark_when_withdrawn_then_refused_as_input_and_a_second_time():
    dataset = _dataset()
    check_usable(dataset)  # in the catalog: usable
    mark(dataset, "licence ended", WHEN)
    assert (dataset.withdrawn_at, dataset.withdrawn_reason) == (WHEN, "licence ended")
    with pytest.raises(Conflict, match="'residents' was withdrawn by its bureau on 2026-12-05"):
        check_usable(dataset)
    with pytest.raises(Conflict, match="withdrawn already"):
        mark(dataset, "again", WHEN)


@pytest.mark.parametrize(
    ("role", "listed"),
    [
        (Role.OPERATOR, ["kept"]),  # operators never see a tombstone
        (Role.STEWARD, ["kept", "gone"]),  # the bureau sees what it withdrew
        (Role.AUDITOR, ["kept", "gone"]),  # so do auditors
        (Role.ADMIN, ["kept", "gone"]),  # and admins
    ],
)
def test_visible_when_a_dataset_is_withdrawn_then_hidden_from_operators_only(
    role: Role, listed: list[str]
):
    gone = _dataset("gone")
    mark(gone, "licence ended", WHEN)
    assert [d.name for d in visible(role, [_dataset("kept"), gone])] == listed


def test_delete_files_when_inside_the_datasets_folder_then_removed_once(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    folder = settings.datasets_dir / "residents-1"
    folder.mkdir(parents=True)
    (folder / "part-00000.parquet").write_bytes(b"x")
    (folder / "part-00000.parquet").chmod(0o440)  # as ingest leaves them
    dataset = _dataset(path=str(folder))
    assert delete_files(settings, dataset) and not folder.exists()
    assert not delete_files(settings, dataset)  # idempotent


@pytest.mark.parametrize("where", ["datasets", "elsewhere", "."])
def test_delete_files_when_path_is_not_a_dataset_folder_then_nothing_removed(
    tmp_path: Path, where: str
):
    settings = Settings(data_dir=tmp_path / "data")
    settings.datasets_dir.mkdir(parents=True)
    (settings.datasets_dir / "other-1").mkdir()
    target = {"datasets": settings.datasets_dir, "elsewhere": tmp_path, ".": tmp_path / "data"}
    assert not delete_files(settings, _dataset(path=str(target[where])))
    assert (settings.datasets_dir / "other-1").is_dir()
