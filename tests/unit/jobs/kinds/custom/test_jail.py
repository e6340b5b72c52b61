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
from typing import Any

import numpy as np
import polars as pl
import pytest
from PIL import Image, PngImagePlugin

from jobs.dp.accounting import Charge
from jobs.errors import InvalidJobSpec
from jobs.kinds.custom import engine as custom
from jobs.kinds.custom import outputs as custom_outputs
from jobs.kinds.custom.jail import LIMIT_RANGES, Limits
from jobs.kinds.custom.spec import CustomSpec
from jobs.spec import parse_job_spec
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


def test_code_files_when_archive_is_safe_then_each_file_is_placed_under_code() -> None:
    spec = parse_job_spec(_spec(archive=_zip({"main.py": "print(1)", "pkg/a.py": "A = 1"})))
    assert isinstance(spec, CustomSpec)
    assert custom.code_files(spec) == {"/code/main.py": b"print(1)", "/code/pkg/a.py": b"A = 1"}


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
    """(the code's names of the accepted files, in released order; refused name -> reason)."""
    files, rejected = _collect_files(output, tmp_path, **limits)
    return [f["code_name"] for f in files], {r["name"]: r["reason"] for r in rejected}


def _collect_files(
    output: Path, tmp_path: Path, **limits: int
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    scratch = tmp_path / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    fd = os.open(output, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return custom.collect(fd, Limits.from_grant(limits), str(scratch))
    finally:
        os.close(fd)


def _png(image: Image.Image, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **params)
    return buffer.getvalue()


def _gradient(payload: bytes = b"") -> Image.Image:
    """A 256 x 64 colour gradient; ``payload``'s bits, if any, in every channel's lowest bit."""
    pixels = bytearray(
        v for y in range(64) for x in range(256) for v in (x, (x + 3 * y) % 256, (255 - x))
    )
    bits = [(byte >> i) & 1 for byte in payload for i in range(8)]
    for i, bit in enumerate(bits[: len(pixels)]):
        pixels[i] = (pixels[i] & 0xFE) | bit
    return Image.frombytes("RGB", (256, 64), bytes(pixels))


def test_collect_when_files_match_their_suffix_then_accepted_under_sandbox_names(
    output: Path, tmp_path: Path
) -> None:
    pl.DataFrame({"a": [1]}).write_parquet(output / "t.parquet")
    (output / "t.csv").write_text("a\n1\n")
    (output / "m.json").write_text('{"a": 1}')
    (output / "n.txt").write_text("中文 ok\n")
    (output / "p.png").write_bytes(_png(Image.new("RGB", (4, 4), "red")))
    files, rejected = _collect_files(output, tmp_path)
    assert rejected == []
    by_code = {f["code_name"]: f for f in files}
    assert sorted(by_code) == ["m.json", "n.txt", "p.png", "t.csv", "t.parquet"]
    # Released as file-N in the order of their content's hash, never under the code's names.
    assert [f["name"] for f in files] == [
        f"file-{i}.{f['format']}" for i, f in enumerate(files, start=1)
    ]
    assert [f["sha256"] for f in files] == sorted(f["sha256"] for f in files)
    assert by_code["t.csv"]["name"].endswith(".csv") and by_code["p.png"]["format"] == "png"


def test_collect_when_code_names_and_order_differ_then_released_names_are_the_same(
    output: Path, tmp_path: Path
) -> None:
    # 100 IDs spelled in base32 file names, and the names' order: neither may leave.
    contents = [f"n\n{i}\n" for i in range(5)]
    for i, text in enumerate(contents):
        (output / f"{base64.b32encode(f'ID{i:016d}'.encode()).decode().strip('=')}.csv").write_text(
            text
        )
    first, _ = _collect_files(output, tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    for i, text in enumerate(reversed(contents)):
        (other / f"z{i}.csv").write_text(text)
    second, _ = _collect_files(other, tmp_path / "o")
    assert [(f["name"], f["sha256"]) for f in first] == [(f["name"], f["sha256"]) for f in second]
    assert not any("ID" in f["name"] or f["name"] == f["code_name"] for f in first)


def test_collect_when_pngs_differ_in_low_bits_only_then_the_payload_does_not_come_back(
    output: Path, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * 20  # a resident table's worth of bytes, hidden in low bits
    (output / "clean.png").write_bytes(_png(_gradient()))
    (output / "stego.png").write_bytes(_png(_gradient(payload)))
    files, rejected = _collect_files(output, tmp_path)
    assert rejected == []
    released = {f["code_name"]: Path(f["path"]).read_bytes() for f in files}
    # The payload cannot be read back from the released image's low bits.
    image = Image.open(io.BytesIO(released["stego.png"])).convert("RGB")
    low = bytes(v & 1 for v in image.tobytes())
    bits = [(byte >> i) & 1 for byte in payload for i in range(8)][: len(low)]
    agreement = sum(a == b for a, b in zip(low, bits, strict=False)) / len(bits)
    assert 0.3 < agreement < 0.7
    assert (
        image.size == (256, 64)
        and len(image.getcolors(4096) or []) <= custom_outputs.PALETTE_COLOURS
    )
    # Dithered from a fresh seed: the same image never comes back the same twice.
    again, _ = _collect_files(output, tmp_path / "again")
    assert {Path(f["path"]).read_bytes() for f in again}.isdisjoint(released.values())


def test_collect_when_a_dark_image_holds_6_bits_per_pixel_then_most_bits_are_lost(
    output: Path, tmp_path: Path
) -> None:
    # The reviewer's example: 64 near-black colours, one random 6-bit symbol per pixel.
    rng = np.random.default_rng(7)
    symbols = rng.integers(0, 64, (512, 512))
    palette = np.array(
        [(17 * (k & 3), 17 * ((k >> 2) & 3), 17 * (k >> 4)) for k in range(64)], dtype=np.int32
    )
    sent = palette[symbols].astype(np.uint8)
    (output / "dark.png").write_bytes(_png(Image.fromarray(sent, "RGB")))
    [f], rejected = _collect_files(output, tmp_path)
    assert rejected == []
    back = np.asarray(Image.open(f["path"]).convert("RGB"), dtype=np.int32)
    # The best single-pixel guess: the nearest of the 64 colours.
    distance = ((back[:, :, None, :] - palette[None, None, :, :]) ** 2).sum(axis=3)
    got = distance.argmin(axis=2)
    bits = (symbols[..., None] >> np.arange(6)) & 1
    errors = float((bits != ((got[..., None] >> np.arange(6)) & 1)).mean())
    assert errors > 0.2


def test_collect_when_an_image_holds_1_bit_per_pixel_as_two_near_whites_then_most_bits_are_lost(
    output: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(8)
    sent = rng.integers(0, 2, (256, 256))
    pixels = np.full((256, 256, 3), 255, dtype=np.uint8)
    pixels[:, :, 0] = np.where(sent == 1, 255, 238)
    (output / "white.png").write_bytes(_png(Image.fromarray(pixels, "RGB")))
    [f], rejected = _collect_files(output, tmp_path)
    assert rejected == []
    back = np.asarray(Image.open(f["path"]).convert("RGB"))
    # The best single-pixel guess: the red channel nearer 255 than 238.
    assert float(((back[:, :, 0] > 246) != sent).mean()) > 0.2


def test_collect_when_an_image_holds_over_4m_pixels_or_the_job_over_16m_then_refused(
    output: Path, tmp_path: Path
) -> None:
    (output / "big.png").write_bytes(_png(Image.new("RGB", (2001, 2000), "white")))
    for i in range(5):
        (output / f"p{i}.png").write_bytes(_png(Image.new("RGB", (2000, 2000), "white")))
    accepted, refused = _collect(output, tmp_path)
    assert refused["big.png"] == "an image of more than 4000000 pixels"
    assert len(accepted) == 4 and len(refused) == 2
    assert "more than 16000000 pixels together" in next(
        r for n, r in refused.items() if n != "big.png"
    )


def test_collect_when_json_is_larger_than_the_parse_cap_then_refused_unparsed(
    output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8 MB of "[{},{},...]" would take ~170 MiB once parsed.
    (output / "bomb.json").write_text("[" + ",".join(["{}"] * (3 * 1024 * 1024)) + "]")
    (output / "small.json").write_text('{"a": 1}')

    def no_parse(*args: object, **kwargs: object) -> object:
        raise AssertionError("parsed a JSON file above the cap")

    real = custom_outputs.json.loads
    monkeypatch.setattr(
        custom_outputs.json,
        "loads",
        lambda text, **kw: real(text) if len(text) < 100 else no_parse(),
    )
    accepted, refused = _collect(output, tmp_path, file_size_bytes=16 * 1024 * 1024)
    assert accepted == ["small.json"]
    assert refused == {
        "bomb.json": f"JSON larger than {4 * 1024 * 1024} bytes (write a table as CSV or Parquet)"
    }


def test_collect_when_hashing_outputs_then_no_file_is_read_whole(
    output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (output / "t.csv").write_text("a\n1\n")

    def whole(self: Path) -> bytes:
        raise AssertionError(f"{self.name} read whole into memory")

    monkeypatch.setattr(Path, "read_bytes", whole)
    accepted, refused = _collect(output, tmp_path)
    assert accepted == ["t.csv"] and refused == {}


def test_collect_when_png_carries_text_chunks_or_trailing_bytes_then_they_are_dropped(
    output: Path, tmp_path: Path
) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "110101199003074514")
    (output / "meta.png").write_bytes(_png(Image.new("RGB", (8, 8), "blue"), pnginfo=info))
    (output / "tail.png").write_bytes(_png(Image.new("RGB", (8, 8), "blue")) + b"13912345678")
    files, rejected = _collect_files(output, tmp_path)
    assert rejected == []
    for f in files:
        data = Path(f["path"]).read_bytes()
        assert b"tEXt" not in data and b"110101" not in data and b"13912345678" not in data
        assert data.endswith(b"IEND\xaeB`\x82")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "not a readable PNG image"),  # a signature only
        (b"GIF89a", "not a PNG image (no PNG signature)"),
    ],
)
def test_collect_when_a_png_does_not_decode_then_refused(
    output: Path, tmp_path: Path, content: bytes, reason: str
) -> None:
    (output / "x.png").write_bytes(content)
    assert _collect(output, tmp_path) == ([], {"x.png": reason})


def test_collect_when_a_png_is_truncated_or_huge_then_refused(
    output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(custom_outputs, "MAX_IMAGE_PIXELS", 200 * 100)
    whole = _png(_gradient())
    (output / "cut.png").write_bytes(whole[: len(whole) // 2])
    # More pixels than allowed in a few hundred bytes (each image is decoded in full).
    (output / "huge.png").write_bytes(_png(Image.new("RGB", (201, 100))))
    assert _collect(output, tmp_path) == (
        [],
        {
            "cut.png": "not a readable PNG image",
            "huge.png": f"an image of more than {custom_outputs.MAX_IMAGE_PIXELS} pixels",
        },
    )


def test_collect_when_sparse_files_state_more_than_the_output_cap_then_nothing_is_copied(
    output: Path, tmp_path: Path
) -> None:
    for i in range(8):
        with (output / f"s{i}.png").open("wb") as handle:
            handle.write(b"\x89PNG\r\n\x1a\n")
            handle.truncate(256 * 1024 * 1024)  # a hole: no block used
    assert sum(p.stat().st_blocks for p in output.iterdir()) * 512 < 1024 * 1024
    accepted, rejected = _collect(output, tmp_path)
    assert accepted == []
    assert list(rejected) == ["*"] and "sparse files count" in rejected["*"]
    copied = sum(p.stat().st_size for p in (tmp_path / "scratch").iterdir())
    assert copied == 0


def test_collect_when_one_file_states_more_than_the_file_size_limit_then_refused(
    output: Path, tmp_path: Path
) -> None:
    with (output / "big.txt").open("wb") as handle:
        handle.truncate(2 * 1024 * 1024)
    (output / "ok.txt").write_text("ok")
    accepted, rejected = _collect(output, tmp_path, file_size_bytes=1024 * 1024)
    assert accepted == ["ok.txt"]
    assert rejected == {"big.txt": f"states more than {1024 * 1024} bytes"}


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


# -- seccomp ------------------------------------------------------------------------------------


def test_seccomp_when_built_then_the_dangerous_calls_are_denied_and_a_bpf_program_comes_back() -> (
    None
):
    from jobs.kinds.custom import seccomp as _jail_seccomp

    names = set(_jail_seccomp.denied())
    required = {"io_uring_setup", "keyctl", "add_key", "request_key", "ptrace", "bpf"}
    required |= {"process_vm_readv", "perf_event_open", "userfaultfd", "mount", "unshare"}
    required |= {"setns", "kexec_load", "init_module", "finit_module", "open_by_handle_at"}
    assert required <= names
    fd = _jail_seccomp.filter_fd()
    try:
        program = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    assert len(program) % 8 == 0 and len(program) >= 8 * len(required)  # sock_filter: 8 bytes


def test_seccomp_when_libseccomp_is_missing_then_internal_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from jobs.kinds.custom import seccomp as _jail_seccomp
    from policies.errors import InternalError

    monkeypatch.setitem(sys.modules, "pyseccomp", None)  # import fails
    with pytest.raises(InternalError, match="install libseccomp2"):
        _jail_seccomp.filter_fd()
