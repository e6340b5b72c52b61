"""The console preview's bounds against small outputs that unpack to a lot (issue 13).

Each bomb runs in a fresh interpreter whose peak resident growth is measured
(and whose address space is capped, so an unbounded read fails the test
instead of taking the machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sandbox.web.console import preview

ROOT = Path(__file__).resolve().parents[5]


def _peak(code: str) -> tuple[int, float, Any]:
    """Run ``code`` (which sets ``result``): its peak RSS growth (MiB), CPU seconds, result."""
    script = textwrap.dedent(
        """
        import json, resource, time
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
        from pathlib import Path
        import polars, pyarrow.parquet, sandbox.web.console.preview
        sandbox.web.console.i18n.use("en")  # the English messages, as in conftest.py
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.process_time()
        """
    )
    script += textwrap.dedent(code)
    script += textwrap.dedent(
        """
        cpu = time.process_time() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"mib": (after - before) // 1024, "cpu": cpu, "result": result}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "POLARS_MAX_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    answer = json.loads(done.stdout.decode().splitlines()[-1])
    return int(answer["mib"]), float(answer["cpu"]), answer["result"]


@pytest.fixture(scope="module")
def long_strings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten rows of a 20 MiB string each, in a few kilobytes (zstd, no dictionary)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path_factory.mktemp("bomb") / "long.parquet"
    column = pa.array(["a" * (20 << 20)] * 10, type=pa.large_string())
    pq.write_table(pa.table({"x": column}), path, compression="zstd", use_dictionary=False)
    assert path.stat().st_size < 100_000
    return path


def test_preview_when_parquet_rows_hold_huge_strings_then_too_large_with_bounded_memory(
    long_strings: Path,
) -> None:
    mib, _, note = _peak(
        f"""
        from sandbox.web.console.preview import parquet_table, read_table
        try:
            parquet_table(Path({str(long_strings)!r}))
            result = "read"
        except ValueError as err:
            result = str(err)
        assert read_table(Path({str(long_strings)!r})) is None
        """
    )
    assert mib < 64, f"the preview grew by {mib} MiB"
    assert note.startswith("too large to preview")


def test_preview_when_zip_member_parquet_holds_huge_strings_then_noted_with_bounded_memory(
    tmp_path: Path, long_strings: Path
) -> None:
    archive = tmp_path / "out.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("long.parquet", long_strings.read_bytes())
    mib, _, shown = _peak(
        f"""
        from sandbox.web.console.preview import zip_members
        member = zip_members(Path({str(archive)!r}))[0]
        result = [member.table is None, member.note]
        """
    )
    assert mib < 64, f"the preview grew by {mib} MiB"
    assert shown[0] and shown[1].startswith("too large to preview")


def test_preview_when_zip_member_csv_has_a_huge_header_then_first_columns_with_bounded_memory(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "out.zip"
    header = ",".join(f"c{i}" for i in range(100_000))
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("wide.csv", header + "\n" + ",".join(["1"] * 100_000) + "\n")
    mib, _, shown = _peak(
        f"""
        from sandbox.web.console.preview import zip_members
        table = zip_members(Path({str(archive)!r}))[0].table
        result = [len(table.columns), table.rows, table.total_rows]
        """
    )
    assert mib < 64, f"the preview grew by {mib} MiB"
    assert shown == [200, [["1"] * 200], 1]


def test_preview_when_csv_member_is_ordinary_then_rows_and_count(tmp_path: Path) -> None:
    table = preview.csv_table("city,count\n南京市,120\n苏州市,130\n".encode())
    assert (table.columns, table.rows, table.total_rows) == (
        ["city", "count"],
        [["南京市", "120"], ["苏州市", "130"]],
        2,
    )


def test_model_member_when_json_nests_a_long_array_then_cut_with_bounded_memory_and_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.json"
    path.write_text("[" * 900 + ",".join(["0"] * 450_000) + "]" * 900)
    mib, cpu, text = _peak(
        f"""
        from sandbox.web.console.preview import model_member
        result = model_member(Path({str(path)!r})).text
        """
    )
    assert mib < 64 and cpu < 2, f"the preview grew by {mib} MiB in {cpu:.1f} s"
    assert text.endswith("… (cut)") and len(text) < preview.MAX_TEXT + 20


def test_model_member_when_json_is_nested_too_deep_then_raw_text_cut(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    member = preview.model_member(path)
    assert member.kind == "text" and member.text == "[" * preview.MAX_TEXT + "\n… (cut)"


def test_model_member_when_json_is_small_then_pretty_printed(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"weights": [1, 2]}))
    assert preview.model_member(path).text == json.dumps({"weights": [1, 2]}, indent=2)


def test_preview_when_archive_has_more_files_than_previewed_then_every_one_listed_and_images_shown(
    tmp_path: Path,
):
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
        b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
        b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    path = tmp_path / "out.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(250):
            archive.writestr(f"part-{i:03}.txt", f"row {i}\n")
        archive.writestr("z-last.png", png)  # a picture the reviewer must be able to see
    members = preview.zip_members(path)
    assert len(members) == 251
    assert members[10].text == "row 10\n" and "not previewed" in (members[240].note or "")
    assert members[250].kind == "image" and preview.zip_image(path, 250) == png
