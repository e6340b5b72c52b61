"""Uploaded tables (:mod:`sandbox.uploads`): encodings, malformed CSV, column limits."""

from __future__ import annotations

import io
import traceback
from pathlib import Path

import polars as pl
import pytest

from policies.errors import InvalidRequest
from sandbox import uploads
from sandbox.uploads import open_upload

MARKER = "ZZMARKER"
TEXT = '城市,年龄,备注\n南京市,30,𠀀\n苏州市,40,"一, 二"\n'


def _write(tmp_path: Path, data: bytes, name: str = "upload.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _read(path: Path, **limits: int) -> pl.DataFrame:
    with open_upload(path, workdir=path.parent, **limits) as frame:  # type: ignore[arg-type]
        return frame.collect()


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),  # plain UTF-8
        b"\xef\xbb\xbf" + TEXT.encode("utf-8"),  # Excel's "CSV UTF-8" (with a BOM)
        TEXT.encode("gb18030"),  # GB18030 (𠀀 needs its four-byte form)
        TEXT.replace("𠀀", "无").encode("gbk"),  # Excel's "CSV" on Chinese Windows
    ],
)
def test_open_upload_when_csv_in_an_accepted_encoding_then_read_as_utf8(
    tmp_path: Path, data: bytes
) -> None:
    table = _read(_write(tmp_path, data))
    assert table.columns == ["城市", "年龄", "备注"]
    assert table["城市"].to_list() == ["南京市", "苏州市"]
    assert table["年龄"].to_list() == [30, 40]
    assert table["备注"].to_list()[1] == "一, 二"


@pytest.mark.parametrize(
    "data",
    [
        "city,note\nParis,café\n".encode("latin-1"),  # Latin-1
        TEXT.encode("utf-16"),  # UTF-16 with its BOM (Excel's "Unicode text")
        TEXT.encode("utf-16-le"),  # UTF-16 without one
        bytes(range(256)) * 4,  # binary
    ],
)
def test_open_upload_when_other_encoding_or_binary_then_422_naming_accepted_ones(
    tmp_path: Path, data: bytes
) -> None:
    with pytest.raises(InvalidRequest) as info:
        _read(_write(tmp_path, data))
    assert "UTF-8" in str(info.value) and "GB18030" in str(info.value)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (f"a,b\n1,2\n3,4,{MARKER}\n5,6\n", 3),  # a row with a field too many
        (f"a,b,c\n1,2,3\n{MARKER},5\n", 3),  # a row with one too few (polars fills nulls)
        (f'a,b\n1,2\n3,"{MARKER}\n5,6\n', 3),  # a quote that never closes
        (f'a,b\n1,2\n"x"{MARKER},4\n', 3),  # text after a closing quote
        (f'a,b\n1,"two\nlines"\n3\n{MARKER},4\n', 4),  # after a quoted line break
        (f"a,b\n1,2\n3,{MARKER}\x00\n", 3),  # a NUL byte: binary
        (f"a,b\n1,2\n3,{MARKER}\x1b[2K\n", 3),  # a terminal escape
    ],
)
def test_open_upload_when_csv_malformed_then_422_naming_the_line_not_a_value(
    tmp_path: Path, data: str, line: int
) -> None:
    with pytest.raises(InvalidRequest) as info:
        _read(_write(tmp_path, data.encode()))
    assert f"line {line} " in str(info.value)
    # nor in the traceback a log handler would print (chained exceptions included)
    assert MARKER not in "".join(traceback.format_exception(info.value))


def test_open_upload_when_a_late_row_is_ragged_then_its_own_line_is_named(
    tmp_path: Path,
) -> None:
    # past the first batches (50,000 records of two fields), after a quoted line break
    data = 'a,b\n1,"x\ny"\n' + "1,2\n" * 120_000 + f"3,4,{MARKER}\n"
    with pytest.raises(InvalidRequest, match=r"^line 120004 has 3 fields"):
        _read(_write(tmp_path, data.encode()))


@pytest.mark.parametrize("long_line", [3, 5])
def test_open_upload_when_a_line_is_overlong_then_422_before_it_is_held_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, long_line: int
) -> None:
    monkeypatch.setattr(uploads, "MAX_LINE_BYTES", 100)
    monkeypatch.setattr(uploads, "_BLOCK", 16)  # lines straddle blocks
    rows = ["a,b"] + [f"{i},{'x' * 96}" for i in range(1, 5)]  # 99 bytes, then the newline
    assert _read(_write(tmp_path, "\n".join(rows).encode())).height == 4
    rows.insert(long_line - 1, f"1,{MARKER}{'y' * 100}")
    with pytest.raises(InvalidRequest, match=f"^line {long_line} is longer than 100 bytes"):
        _read(_write(tmp_path, "\n".join(rows).encode()))


def test_open_upload_when_empty_lines_then_skipped_not_rows_of_nulls(tmp_path: Path) -> None:
    table = _read(_write(tmp_path, b"a,b\n1,2\n\n3,4\n\n\n"))
    assert table.rows() == [(1, 2), (3, 4)]


def test_open_upload_when_a_late_value_misfits_the_head_then_the_whole_file_types_it(
    tmp_path: Path,
) -> None:
    data = "n,t\n" + "1,x\n" * 20_000 + f"{MARKER},y\n"
    table = _read(_write(tmp_path, data.encode()))
    assert table.schema["n"] == pl.String and table.height == 20_001


def test_open_upload_when_more_columns_than_allowed_then_422(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(11))
    path = _write(tmp_path, f"{header}\n{','.join('1' * 11)}\n".encode())
    with pytest.raises(InvalidRequest, match="11 columns, more than the 10"):
        _read(path, max_columns=10)
    assert _read(path, max_columns=11).width == 11
    parquet = tmp_path / "wide.parquet"
    pl.DataFrame({f"c{i}": [1] for i in range(11)}).write_parquet(parquet)
    with pytest.raises(InvalidRequest, match="SANDBOX_MAX_COLUMNS"):
        _read(parquet, max_columns=10)


def test_open_upload_when_max_rows_then_only_the_head_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, ("a\n" + "1\n" * 100).encode())
    assert _read(path, max_rows=7).height == 7


def test_open_upload_when_done_then_the_copy_is_private_and_removed_and_source_untouched(
    tmp_path: Path,
) -> None:
    data = TEXT.encode("gb18030")
    source = _write(tmp_path, data)
    work = tmp_path / "work"
    work.mkdir()
    with open_upload(source, workdir=work) as frame:
        (copy,) = list(work.iterdir())
        assert copy.stat().st_mode & 0o077 == 0
        assert frame.collect().height == 2
    assert list(work.iterdir()) == []
    assert source.read_bytes() == data


def test_open_upload_when_parquet_is_corrupt_then_422(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    pl.DataFrame({"a": [1, 2]}).write_parquet(buffer)
    broken = buffer.getvalue()[:4] + b"\x00" * 40 + buffer.getvalue()[-8:-4] + b"PAR1"
    with pytest.raises(InvalidRequest, match="Parquet"):
        _read(_write(tmp_path, broken, "broken.parquet"))
