"""Open a quarantined output safely: which files it holds and what each one really is.

Used by :mod:`sandbox.checks.engine` before any check runs. An output is one
file of the formats its kind declares (Parquet for statistics and records;
JSON or safetensors for a model) or a zip archive of operator-written files.
Nothing here trusts a name: every file is identified by its content, and zip
members are copied out under names of our own, with their declared and actual
sizes bounded (a zip bomb stops at the cap, never fills the disk). The archive
is the sandbox's own container, so its compression ratio says nothing about
the operator: a file of repetitive content (a JSON of zeros) compresses a
thousand to one and is judged by what it holds.

Why content sniffing is written here rather than taken from a library
(libmagic / ``python-magic``): the allowlist has five formats and for each the
check we need is stronger than a magic number — Parquet needs its magic at
both ends, PNG must end at its ``IEND`` chunk (bytes after it are a classic
hiding place), text must decode as strict UTF-8 without control bytes, JSON
must parse, and safetensors is opened by the ``safetensors`` library itself.
A magic table only names the common binaries in a reviewer's reason.
"""

from __future__ import annotations

import codecs
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import polars as pl

#: Zip members an archive may hold, by suffix.
MEMBER_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".png": "png",
    ".txt": "txt",
}
#: More members than this is not a reviewable product.
MAX_MEMBERS = 1000

#: What reading a hostile file may raise; a polars panic (a ``BaseException``) included.
UNREADABLE = (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError, ValueError)

_CHUNK = 1 << 20
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT = {b"tEXt", b"zTXt", b"iTXt"}
#: Largest decompressed PNG text chunk read; a bigger one is itself a finding.
_PNG_TEXT_CAP = 1 << 20
#: Magic numbers of common non-allowed files, for a reason a reviewer can read.
_MAGIC = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O or Java class file"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!", "a rar archive"),
    (b"%PDF", "a PDF document"),
    (b"\x80\x04", "a Python pickle"),
    (b"\x80\x05", "a Python pickle"),
    (b"SQLite format 3", "an SQLite database"),
)
# C0 control bytes other than tab, line feed and carriage return have no place in text.
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13)) + b"\x7f"


@dataclass(frozen=True, slots=True)
class Member:
    """One file of an output, identified by content.

    Attributes:
        name: The name a reviewer knows it by (the output's or the zip member's).
        fmt: ``parquet``, ``csv``, ``json``, ``png``, ``txt`` or ``safetensors``.
        path: Where its bytes are on disk (zip members are copied out).
    """

    name: str
    fmt: str
    path: Path


@dataclass(slots=True)
class Opened:
    """What :func:`open_output` found: usable members and the reasons for failing ones."""

    members: list[Member] = field(default_factory=list)
    #: File-type problems, one reason each (file names, never contents).
    problems: list[str] = field(default_factory=list)
    #: Size problems (the output or the archive exceeds the byte cap).
    oversize: list[str] = field(default_factory=list)
    #: Bytes on disk of the output, and uncompressed bytes of its members.
    stored_bytes: int = 0
    content_bytes: int = 0
    #: Zip member names (scanned for personal information like any other text).
    names: list[str] = field(default_factory=list)


def open_output(
    output: Path, allowed: frozenset[str], kind: str, max_bytes: int, workdir: Path
) -> Opened:
    """Identify an output's files; copy zip members into ``workdir``.

    Args:
        output: The quarantined output file.
        allowed: The formats its kind may release at the top level.
        kind: The kind's name, for the reason a disallowed format gets.
        max_bytes: Cap on the output's stored and uncompressed bytes.
        workdir: An empty private folder for extracted members.

    Returns:
        Members fit to check and the reasons any file failed.
    """
    opened = Opened()
    try:
        opened.stored_bytes = output.stat().st_size
    except OSError:
        opened.problems.append("the output file is missing or unreadable")
        return opened
    if opened.stored_bytes > max_bytes:
        opened.oversize.append(f"the output has {opened.stored_bytes} bytes, over the cap")
        return opened
    fmt = identify(output)
    if fmt not in allowed:
        what = describe(output) or (f"a {fmt} file" if fmt else "of no allowed type")
        opened.problems.append(
            f"a {kind} job may release {' or '.join(sorted(allowed))}; the output is {what}"
        )
        return opened
    if fmt == "zip":
        _open_zip(output, max_bytes, workdir, opened)
        return opened
    opened.content_bytes = opened.stored_bytes
    problem = validate(output, fmt)
    if problem:
        opened.problems.append(f"the output {problem}")
    else:
        opened.members.append(Member(output.name, fmt, output))
    return opened


def identify(path: Path) -> str | None:
    """The allowed format a file's content has, if any (before full validation)."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if len(head) > 8 and head[8:9] == b"{" and _safetensors_header(path) is not None:
        return "safetensors"
    if _text_problem(path) is None:
        # Parsed once, by the reader and within its limits; a document opens with { or [.
        with path.open("rb") as handle:
            start = handle.read(_CHUNK).lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
        return "json" if start in (b"{", b"[") else "txt"
    return None


def describe(path: Path) -> str | None:
    """A reviewer's name for a well-known disallowed file type, from its magic number."""
    with path.open("rb") as handle:
        head = handle.read(16)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    return None


def validate(path: Path, fmt: str) -> str | None:
    """Why the file's content is not a well-formed ``fmt`` file, or None when it is."""
    what = describe(path)
    if fmt in ("csv", "txt", "json"):
        if what:
            return f"is {what}, not {fmt} text"
        problem = _text_problem(path)
        if problem:
            return problem
        if fmt == "csv":
            try:
                pl.scan_csv(path, infer_schema=False).head(1000).collect()
            except UNREADABLE:
                return "is not a readable CSV table"
        return None
    if fmt == "parquet":
        return _parquet_problem(path)
    if fmt == "png":
        return png_problem(path)
    if fmt == "safetensors":
        return None if _safetensors_header(path) is not None else "is not a safetensors file"
    return f"has a format ({fmt}) no job may release"


def _text_problem(path: Path) -> str | None:
    """Strict UTF-8 without control bytes, read in chunks (no whole-file decode)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            if any(byte in chunk for byte in _CONTROL):
                return "holds binary control bytes, not text"
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "is not UTF-8 text"
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    return None


def _parquet_problem(path: Path) -> str | None:
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(max(path.stat().st_size - 4, 0))
        tail = handle.read(4)
    if path.stat().st_size < 12 or head != b"PAR1" or tail != b"PAR1":
        return "is not a Parquet file (no PAR1 magic at both ends)"
    try:
        pl.read_parquet_schema(path)
    except UNREADABLE:
        return "is not a readable Parquet file"
    return None


def png_problem(path: Path) -> str | None:
    """Why a file is not a well-formed PNG ending at ``IEND``, or None."""
    try:
        png_text(path)
    except ValueError as err:
        return str(err)
    return None


def png_text(path: Path) -> list[str]:
    """Texts held in a PNG's text chunks (``tEXt``, ``zTXt``, ``iTXt``).

    Chunk layout after the signature: 4-byte length, 4-byte type, data, CRC
    (W3C PNG specification, 3rd edition, section 5.3).

    Raises:
        ValueError: The file is not a well-formed PNG or holds bytes after ``IEND``.
    """
    texts: list[str] = []
    data = path.read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("is not a PNG image")
    at = len(_PNG_SIGNATURE)
    while True:
        if at + 8 > len(data):
            raise ValueError("is a truncated PNG image (no IEND chunk)")
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        crc = data[at + 8 + length : at + 12 + length]
        if len(body) < length or len(crc) < 4:
            raise ValueError("is a truncated PNG image")
        if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            raise ValueError("is a damaged PNG image (chunk checksum)")
        at += 12 + length
        if kind in _PNG_TEXT:
            texts.append(_png_chunk_text(kind, body))
        if kind == b"IEND":
            break
    if at != len(data):
        raise ValueError(f"holds {len(data) - at} bytes after the end of the PNG image")
    return texts


def _png_chunk_text(kind: bytes, body: bytes) -> str:
    keyword, _, rest = body.partition(b"\x00")
    if kind == b"tEXt":
        return (keyword + b" " + rest).decode("latin-1")
    if kind == b"zTXt":
        return (keyword + b" " + _inflate(rest[1:])).decode("latin-1")
    # iTXt: compression flag, method, language tag NUL, translated keyword NUL, text.
    flag, rest = rest[:1], rest[2:]
    _, _, rest = rest.partition(b"\x00")
    _, _, text = rest.partition(b"\x00")
    if flag == b"\x01":
        text = _inflate(text)
    return (keyword + b" " + text).decode("utf-8", errors="replace")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, _PNG_TEXT_CAP)
    except zlib.error as err:
        raise ValueError("is a PNG image with a damaged text chunk") from err
    if inflater.unconsumed_tail:
        raise ValueError("is a PNG image with an oversized compressed text chunk")
    return out


def _safetensors_header(path: Path) -> list[str] | None:
    """Tensor names and metadata strings of a safetensors file, or None if it is not one."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            strings = list(handle.keys())
            for key, value in (handle.metadata() or {}).items():
                strings += [key, value]
    except (SafetensorError, OSError, ValueError):
        return None
    return strings


def safetensors_strings(path: Path) -> list[str]:
    """The strings of a safetensors header: tensor names, metadata keys and values."""
    return _safetensors_header(path) or []


def _open_zip(path: Path, max_bytes: int, workdir: Path, opened: Opened) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        opened.problems.append("the output is not a readable zip archive")
        return
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            opened.problems.append(f"the archive holds {len(infos)} files, over {MAX_MEMBERS}")
            return
        declared = sum(i.file_size for i in infos)
        if declared > max_bytes:
            opened.oversize.append(f"the archive's files declare {declared} bytes, over the cap")
            return
        seen: set[str] = set()
        for index, info in enumerate(infos):
            name = info.filename
            opened.names.append(name)
            problem = _member_problem(info, seen)
            seen.add(name)
            if problem is None:
                fmt = MEMBER_FORMATS[PurePosixPath(name).suffix.lower()]
                target = workdir / f"member-{index:04d}.{fmt}"
                problem = _copy_member(archive, info, target, max_bytes - opened.content_bytes)
                if problem is None:
                    opened.content_bytes += target.stat().st_size
                    problem = validate(target, fmt)
                    if problem is None:
                        opened.members.append(Member(name, fmt, target))
                        continue
            opened.problems.append(f"'{name}' {problem}")


def _member_problem(info: zipfile.ZipInfo, seen: set[str]) -> str | None:
    """Why a member's entry (name, flags, sizes) is refused before reading its bytes."""
    name = info.filename
    pure = PurePosixPath(name)
    if not pure.parts or "\\" in name or "\x00" in name or pure.is_absolute():
        return "has an absolute or non-portable path"
    if ":" in pure.parts[0]:
        return "has an absolute or non-portable path"
    if ".." in pure.parts:
        return "has a path that climbs out of the archive (path traversal)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted and cannot be checked"
    if name in seen:
        return "appears twice in the archive"
    suffix = pure.suffix.lower()
    if suffix not in MEMBER_FORMATS:
        allowed = ", ".join(sorted(MEMBER_FORMATS))
        return f"has a type ({suffix or 'no suffix'}) outside the allowlist ({allowed})"
    return None


def _copy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int
) -> str | None:
    """Copy a member out, never past its declared size nor the byte budget left."""
    limit = min(info.file_size, budget)
    written = 0
    try:
        with archive.open(info) as source, target.open("wb") as sink:
            while chunk := source.read(min(_CHUNK, limit - written + 1)):
                written += len(chunk)
                if written > limit:
                    return "is larger than declared or than the byte cap allows"
                sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError):
        return "cannot be read from the archive (damaged or an unsupported compression)"
    if written != info.file_size:
        return "is shorter than its declared size"
    return None
