"""The custom job kind without a jail: limits, spec, code archives, output checks."""

from __future__ import annotations

import base64
import io
import os
import pickle
import re
import stat
import zipfile
from pathlib import Path

import polars as pl
import pytest

from jobs import custom
from jobs.dp.accounting import Charge
from jobs.errors import InvalidJobSpec
from jobs.jail import LIMIT_RANGES, Limits
from jobs.spec import CustomSpec, parse_job_spec
from policies.catalog import Grade
from policies.errors import InvalidRequest, PolicyViolation

# -- limits -------------------------------------------------------------------------------------


def test_limits_when_grant_sets_nothing_then_safe_defaults() -> None:
    limits = Limits.from_grant({})
    assert limits == Limits.from_grant(None) == Limits()
    assert (limits.wall_s, limits.cpu_s, limits.processes) == (300, 120, 64)
    assert limits.memory_bytes == 4 * 1024**3 and limits.output_files == 200


def test_limits_when_grant_sets_some_then_the_rest_keep_defaults() -> None:
    limits = Limits.from_grant({"wall_s": 60, "output_files": 10})
    assert (limits.wall_s, limits.output_files, limits.cpu_s) == (60, 10, 120)


@pytest.mark.parametrize(
    "settings",
    [
        {"wall_seconds": 60},  # unknown key
        {"wall_s": 0},  # below the least
        {"wall_s": 3601},  # above the hard maximum
        {"processes": 100_000},  # a fork bomb's wish
        {"memory_bytes": 64 * 1024**3},  # more than a grant may give
        {"output_files": True},  # a bool is not a count
        {"cpu_s": 1.5},  # not an integer
        {"tmp_bytes": "1G"},  # not a number
    ],
)
def test_limits_when_grant_value_is_unknown_or_out_of_range_then_invalid_request(
    settings: dict[str, object],
) -> None:
    with pytest.raises(InvalidRequest):
        Limits.from_grant(settings)


def test_limits_when_every_key_is_at_its_maximum_then_accepted() -> None:
    limits = Limits.from_grant({k: high for k, (_, high) in LIMIT_RANGES.items()})
    assert limits.wall_s == LIMIT_RANGES["wall_s"][1]


# -- spec ---------------------------------------------------------------------------------------


def _spec(**fields: object) -> dict[str, object]:
    return {"kind": "custom", "datasets": ["people"]} | fields


def test_spec_when_source_is_given_then_entrypoint_defaults_to_main() -> None:
    spec = parse_job_spec(_spec(source="print(1)"))
    assert isinstance(spec, CustomSpec) and spec.entrypoint == "main.py"


@pytest.mark.parametrize(
    "fields",
    [
        {},  # no code at all
        {"source": "print(1)", "archive": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},  # both
        {"source": "x" * 1_000_001},  # over 1 MB
        {"source": "é" * 600_000},  # over 1 MB once encoded
        {"source": "x", "entrypoint": "../main.py"},  # traversal
        {"source": "x", "entrypoint": "/abs/main.py"},  # absolute
        {"source": "x", "entrypoint": ".hidden.py"},  # hidden
        {"source": "x", "entrypoint": "main.sh"},  # not Python
        {"source": "x", "datasets": ["a/b"]},  # a slash in a dataset name
        {"source": "x", "datasets": ["people", "people"]},  # twice
    ],
)
def test_spec_when_code_fields_are_wrong_then_invalid(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidJobSpec):
        parse_job_spec(_spec(**fields))


# -- archives -----------------------------------------------------------------------------------


def _zip(members: dict[str, bytes | str], mode: int | None = None) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None and name != "main.py":
                info.external_attr = mode << 16
            zf.writestr(info, content)
    return base64.b64encode(buffer.getvalue()).decode()


def _validate(archive: str, entrypoint: str = "main.py", grade: Grade = Grade.GENERAL) -> None:
    spec = parse_job_spec(_spec(archive=archive, entrypoint=entrypoint))
    assert isinstance(spec, CustomSpec)
    custom.validate(spec, {}, {}, grade, {"limits": {}})


def test_archive_when_members_are_safe_then_files_come_back_in_order() -> None:
    archive = _zip({"main.py": "print(1)", "lib/util.py": "X = 1", "lib/": ""})
    files = custom._read_archive(archive, "main.py")
    assert files == [("main.py", b"print(1)"), ("lib/util.py", b"X = 1")]
    _validate(archive)


@pytest.mark.parametrize(
    ("members", "mode", "message"),
    [
        ({"main.py": "", "../../etc/cron.d/x": "x"}, None, "'..'"),  # traversal
        ({"main.py": "", "/etc/passwd": "x"}, None, "absolute"),  # absolute path
        ({"main.py": "", "C:/x.py": "x"}, None, "absolute"),  # a drive letter
        ({"main.py": "", "a\\..\\b.py": "x"}, None, "absolute or unsafe"),  # backslashes
        ({"main.py": "", ".git/config": "x"}, None, "hidden"),  # hidden part
        ({"main.py": "", "link.py": "/etc/passwd"}, stat.S_IFLNK | 0o777, "link"),  # symlink
        ({"main.py": "", "dev.py": ""}, stat.S_IFCHR | 0o666, "link or special"),  # device
        ({"other.py": "print(1)"}, None, "no entry point"),  # entry point missing
        ({"main.py": "", "a.py": "x", "a.py/b.py": "y"}, None, "file and a folder"),  # clash
    ],
)
def test_archive_when_member_is_unsafe_then_invalid_job_spec(
    members: dict[str, bytes | str], mode: int | None, message: str
) -> None:
    with pytest.raises(InvalidJobSpec, match=re.escape(message)):
        _validate(_zip(members, mode))


def test_archive_when_it_unpacks_too_big_then_refused_as_a_bomb() -> None:
    archive = _zip({"main.py": "", "zeros.txt": b"\0" * (custom.MAX_ARCHIVE_UNPACKED + 1)})
    assert len(base64.b64decode(archive)) < 100_000  # small on the wire
    with pytest.raises(InvalidJobSpec, match="unpacks to more than"):
        _validate(archive)


def test_archive_when_its_header_lies_about_size_then_reading_stops() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("main.py", "")
        zf.writestr("big.txt", b"a" * 5_000_000)
    raw = bytearray(buffer.getvalue())
    # Rewrite the declared uncompressed size of big.txt (central directory) to 10 bytes.
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(InvalidJobSpec, match="cannot be read"):
        _validate(base64.b64encode(bytes(raw)).decode())


def test_archive_when_too_many_members_then_refused() -> None:
    members: dict[str, bytes | str] = {f"m{i}.py": "" for i in range(custom.MAX_ARCHIVE_MEMBERS)}
    members["main.py"] = ""
    with pytest.raises(InvalidJobSpec, match="more than"):
        _validate(_zip(members))


@pytest.mark.parametrize("archive", ["not base64!!", base64.b64encode(b"not a zip").decode()])
def test_archive_when_not_a_zip_then_refused(archive: str) -> None:
    with pytest.raises(InvalidJobSpec):
        _validate(archive)


def test_materialize_when_archive_is_safe_then_files_are_written_read_only_for_others(
    tmp_path: Path,
) -> None:
    spec = parse_job_spec(_spec(archive=_zip({"main.py": "print(1)", "pkg/a.py": "A = 1"})))
    assert isinstance(spec, CustomSpec)
    custom._materialize_code(spec, tmp_path / "code")
    assert (tmp_path / "code" / "pkg" / "a.py").read_text() == "A = 1"
    assert stat.S_IMODE((tmp_path / "code" / "main.py").stat().st_mode) == 0o644


# -- policy and ledger --------------------------------------------------------------------------


def test_validate_when_data_is_core_then_policy_violation_citing_article_62() -> None:
    spec = parse_job_spec(_spec(source="print(1)"))
    assert isinstance(spec, CustomSpec)
    with pytest.raises(PolicyViolation, match=r"art\. 62"):
        custom.validate(spec, {}, {}, Grade.CORE, {"limits": {}})
    custom.validate(spec, {}, {}, Grade.IMPORTANT, {"limits": {}})


def test_validate_when_grant_limits_are_invalid_then_invalid_request() -> None:
    spec = parse_job_spec(_spec(source="print(1)"))
    assert isinstance(spec, CustomSpec)
    with pytest.raises(InvalidRequest):
        custom.validate(spec, {}, {}, Grade.GENERAL, {"limits": {"wall_s": 10**6}})


def test_charge_when_custom_then_nothing_is_spent() -> None:
    spec = parse_job_spec(_spec(source="print(1)"))
    assert isinstance(spec, CustomSpec)
    assert custom.charge(spec) == Charge()


# -- output checks ------------------------------------------------------------------------------


@pytest.fixture
def output(tmp_path: Path) -> Path:
    folder = tmp_path / "output"
    folder.mkdir()
    return folder


def _collect(output: Path, tmp_path: Path, **limits: int) -> tuple[list[str], dict[str, str]]:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    fd = os.open(output, os.O_RDONLY | os.O_DIRECTORY)
    try:
        files, rejected = custom.collect(fd, Limits.from_grant(limits), str(scratch))
    finally:
        os.close(fd)
    return [f["name"] for f in files], {r["name"]: r["reason"] for r in rejected}


def test_collect_when_files_match_their_suffix_then_accepted(output: Path, tmp_path: Path) -> None:
    pl.DataFrame({"a": [1]}).write_parquet(output / "t.parquet")
    (output / "t.csv").write_text("a\n1\n")
    (output / "m.json").write_text('{"a": 1}')
    (output / "n.txt").write_text("中文 ok\n")
    (output / "p.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    assert _collect(output, tmp_path) == (["m.json", "n.txt", "p.png", "t.csv", "t.parquet"], {})


def test_collect_when_entries_are_links_fifos_or_folders_then_refused(
    output: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (output / "link.txt").symlink_to(secret)
    os.mkfifo(output / "pipe.csv")
    (output / "dir.txt").mkdir()
    (output / "a.txt").write_text("a")
    os.link(output / "a.txt", output / "b.txt")
    accepted, rejected = _collect(output, tmp_path)
    assert accepted == []
    assert rejected == {
        "a.txt": "a hard link",
        "b.txt": "a hard link",
        "dir.txt": "a folder (only files directly in /output are collected)",
        "link.txt": "a symbolic link",
        "pipe.csv": "not a regular file (FIFO, socket or device)",
    }


def test_collect_when_content_lies_about_its_suffix_then_refused(
    output: Path, tmp_path: Path
) -> None:
    (output / "model.parquet").write_bytes(pickle.dumps({"w": 1}))
    (output / "half.parquet").write_bytes(b"PAR1" + b"\0" * 20 + b"PAR1")
    (output / "x.png").write_bytes(b"GIF89a")
    (output / "bin.txt").write_bytes(b"\xff\xfe\x00")
    (output / "bell.csv").write_bytes(b"a\x07b")
    (output / "bad.json").write_text("{")
    (output / "évil name.txt").write_text("x")
    accepted, rejected = _collect(output, tmp_path)
    assert accepted == []
    assert rejected == {
        "bad.json": "not valid JSON",
        "bell.csv": "text with control characters",
        "bin.txt": "text with control characters",
        "half.parquet": "not a readable Parquet file",
        "model.parquet": "not a Parquet file (no Parquet magic at both ends)",
        "x.png": "not a PNG image (no PNG signature)",
        "?vil?name.txt": "name not allowed (letters, digits, '_', '.', '-'; at most 100)",
    }


def test_collect_when_more_files_than_allowed_then_none_is_accepted(
    output: Path, tmp_path: Path
) -> None:
    for i in range(4):
        (output / f"f{i}.txt").write_text("x")
    assert _collect(output, tmp_path, output_files=3) == (
        [],
        {"*": "more than 3 files in /output"},
    )
