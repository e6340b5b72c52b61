"""Uploaded tables (:mod:`sandbox.catalog.uploads`): encodings, malformed CSV, column limits."""

from __future__ import annotations

import io
import traceback
import tracemalloc
from pathlib import Path

import polars as pl
import pytest

from policies.errors import InvalidRequest
from sandbox.catalog import uploads
from sandbox.catalog.uploads import open_upload

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


# --- bounded memory: a record is checked as it is read ---------------------------------------


def _peak_bytes(path: Path) -> tuple[int, BaseException | None]:
    """Peak Python memory while ``path`` is opened and read, and what it raised."""
    tracemalloc.start()
    try:
        _read(path)
        raised: BaseException | None = None
    except InvalidRequest as err:
        raised = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, raised


def test_open_upload_when_records_are_all_commas_then_422_at_the_first_without_holding_them(
    tmp_path: Path,
) -> None:
    # 32 MB of commas under a 1-column header: a batch of them once held 274 MB
    path = _write(tmp_path, b"a\n" + (b"," * 4_000_000 + b"\n") * 8)
    peak, raised = _peak_bytes(path)
    assert isinstance(raised, InvalidRequest)
    assert str(raised).startswith("the record starting on line 2 holds more than")
    assert peak < 24 << 20, peak


def test_open_upload_when_a_quoted_field_spans_many_lines_then_the_record_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each line is short, so the line bound never fires; the record's own bound does
    monkeypatch.setattr(uploads, "MAX_RECORD_CHARS", 10_000)
    data = 'a,b\n1,2\n3,"' + f"{MARKER},\n" * 2_000 + '"\n'
    with pytest.raises(InvalidRequest, match=r"^the record starting on line 3 is longer") as info:
        _read(_write(tmp_path, data.encode()))
    assert MARKER not in "".join(traceback.format_exception(info.value))


def test_open_upload_when_long_valid_rows_then_batches_are_bounded_by_size(
    tmp_path: Path,
) -> None:
    # 240 rows of 100 kB under a 1-column header: a batch of 100,000 records held them all
    path = _write(tmp_path, b"a\n" + (b"x" * 100_000 + b"\n") * 240)
    peak, raised = _peak_bytes(path)
    assert raised is None
    assert peak < 16 << 20, peak


def test_open_upload_when_a_field_is_longer_than_the_csv_default_then_read(
    tmp_path: Path,
) -> None:
    # Python's reader refuses fields over 131,072 characters unless told otherwise
    data = b'a,b\n1,"' + b"x" * 200_000 + b'"\n'
    assert _read(_write(tmp_path, data))["b"].str.len_chars().to_list() == [200_000]


# --- mixed encodings ---------------------------------------------------------------------


def test_open_upload_when_utf8_holds_a_stray_latin1_byte_then_422_not_mojibake(
    tmp_path: Path,
) -> None:
    # GB18030 decodes this UTF-8 Chinese without error: a fallback stored every value garbled
    data = ("city,n\n" + "南京,1\n苏州,2\n" * 2_000).encode() + b"Caf\xe9s,3\n"
    with pytest.raises(InvalidRequest, match=r"^the file mixes encodings: .* line 4002 ") as info:
        _read(_write(tmp_path, data))
    assert "GB18030" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "一号楼,人数\n一号楼,3\n",  # 一 is D2 BB in GBK: valid UTF-8 (U+04BB) by accident
        "楼,人数\n" + "一号,3\n" * 500,  # and again on every row
    ],
)
def test_open_upload_when_gbk_starts_with_bytes_valid_as_utf8_then_read_as_gbk(
    tmp_path: Path, text: str
) -> None:
    table = _read(_write(tmp_path, text.encode("gbk")))
    assert table.columns[1] == "人数" and table.row(0)[1] == 3


# --- what polars read before: empty strings, line breaks, stray quotes -----------------------


def test_open_upload_when_a_field_is_quoted_empty_then_empty_string_else_null(
    tmp_path: Path,
) -> None:
    table = _read(_write(tmp_path, b'a,b,c\n"",,x\n"y",,""\n'))
    assert table.rows() == [("", None, "x"), ("y", None, "")]


@pytest.mark.parametrize("separator", ["\r", "\r\n"])
def test_open_upload_when_lines_end_in_carriage_returns_then_read_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, separator: str
) -> None:
    monkeypatch.setattr(uploads, "MAX_LINE_BYTES", 100)
    monkeypatch.setattr(uploads, "_BLOCK", 16)  # the file is far longer than a "line"
    rows = ["a,b"] + [f"{i},{'x' * 80}" for i in range(1, 9)]
    assert _read(_write(tmp_path, separator.join(rows).encode())).height == 8
    rows[5] += f",{MARKER}"
    with pytest.raises(InvalidRequest, match=r"^line 6 has 3 fields"):
        _read(_write(tmp_path, separator.join(rows).encode()))
    rows[5] = f"1,{MARKER}\x00"
    with pytest.raises(InvalidRequest, match=r"^line 6 holds control"):
        _read(_write(tmp_path, separator.join(rows).encode()))


def test_open_upload_when_a_quote_sits_inside_an_unquoted_field_then_kept_as_text(
    tmp_path: Path,
) -> None:
    # polars alone would open a quoted field there and misread the rows after it
    table = _read(_write(tmp_path, b'a,b\n5",1\n"x\ny",2\n3,"q""r"\n'))
    assert table.rows() == [('5"', "1"), ("x\ny", "2"), ("3", 'q"r')]
