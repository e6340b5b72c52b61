"""The ``custom`` job kind: operator code run in a jail; its output always needs review.

Contract for the operator's code (a :class:`~jobs.spec.CustomSpec`):

* the code is at ``/code`` (read-only) and ``python /code/<entrypoint>`` runs
  in ``/tmp`` as uid 65534, with no network and a cleared environment;
* each granted dataset is one Parquet file at ``/data/<dataset>.parquet``
  (read-only). The stored dataset is a folder of part files; the trusted
  wrapper concatenates them into one file in a private folder first, so the
  code sees one file per dataset, as the contract says, and no storage path;
* outputs are files written directly in ``/output`` with the suffix ``.csv``,
  ``.parquet``, ``.json``, ``.png`` or ``.txt``; anything else is refused;
* stdout and stderr are kept (their last 64 KiB each) for the reviewer only.

After the run, ``/output`` is read from outside the jail without following
any link: only regular files with one link, an allowed name and content that
matches its suffix (PNG and Parquet magic, strict UTF-8 text, parseable JSON)
are packed, in name order, into ``<quarantine>/job-N.zip``. The outcome's
``report`` holds the exit status, time used, what killed the run, the stream
tails and the refused files with reasons; the service shows it to reviewers,
never to the operator.

A run that fails (non-zero exit, killed by a limit) does not raise: nothing
is released without review anyway, and the reviewer needs the logs. Its
outcome has an empty zip and the report says why; review rejects it. Custom
outputs are never differentially private by construction: the ledger charges
nothing (:func:`charge`) and the report says that review is what protects them.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any

from jobs.dp.accounting import Charge
from jobs.errors import InternalError, InvalidJobSpec, JobFailed
from jobs.jail import Limits, Runtime, run_jailed
from jobs.runner import Outcome, Task, evaluation_errors, sha256_file
from jobs.spec import MAX_CUSTOM_ARCHIVE_BYTES, CustomSpec, parse_job_spec
from policies.catalog import ColumnTag, Grade
from policies.errors import PolicyViolation

#: Suffixes an output file may have, and the format each claims.
OUTPUT_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".png": "png",
    ".txt": "txt",
}
#: An output name: a plain file name, no folder, no hidden file.
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
#: Most files a code archive may hold, and their total unpacked size.
MAX_ARCHIVE_MEMBERS = 200
MAX_ARCHIVE_UNPACKED = 20 * 1024 * 1024
_PNG = b"\x89PNG\r\n\x1a\n"
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13)) + b"\x7f"
_CHUNK = 1 << 20
NOT_DP_NOTE = (
    "custom code output is not differentially private by construction: "
    "a reviewer must check every file before release"
)


def validate(
    spec: CustomSpec,
    dtypes: Mapping[str, str],
    tags: Mapping[str, ColumnTag],
    grade: Grade,
    options: Mapping[str, Any],
) -> None:
    """Raise unless ``spec`` may run on one of its datasets (called once per dataset).

    The grant's scope (datasets, kinds, state) is checked by the service.

    Args:
        spec: The custom job.
        dtypes: The dataset's columns (unused: the code sees the whole table).
        tags: The dataset's column tags (unused, as ``dtypes``).
        grade: The dataset's security grade.
        options: ``{"limits": grant limits}``.

    Raises:
        PolicyViolation: The dataset is ``core`` data (art. 62).
        InvalidJobSpec: The code archive is unsafe or lacks its entry point.
        InvalidRequest: The grant's jail limits are invalid.
    """
    del dtypes, tags
    _check_grade(grade)
    Limits.from_grant(options.get("limits"))
    if spec.archive is not None:
        _read_archive(spec.archive, spec.entrypoint)


def charge(spec: CustomSpec) -> Charge:
    """What the ledger charges: nothing, the output is not DP and always reviewed."""
    del spec
    return Charge()


def run(task: Task) -> Outcome:
    """Run the task's code in a jail; pack its accepted outputs into quarantine.

    Returns:
        The outcome: ``output_path`` is ``<quarantine>/<stem>.zip``; ``rows`` is
        the number of files released for review; ε = δ = 0; ``report`` is for
        the reviewer only.

    Raises:
        InvalidJobSpec: The spec is not a custom job, or its archive is unsafe.
        PolicyViolation: A dataset is ``core`` data.
        JobFailed: A dataset has no stored data, or its parts cannot be read together.
        InternalError: The jail could not be set up.
    """
    spec = parse_job_spec(task.spec)
    if not isinstance(spec, CustomSpec):
        raise InvalidJobSpec("jobs.custom runs only custom jobs")
    for name in spec.datasets:
        _check_grade(Grade(task.grades.get(name, Grade.GENERAL)))
    limits = Limits.from_grant(task.options.get("limits"))
    runtime = Runtime.current()
    out = Path(task.output_path).with_suffix(".zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sandbox-custom-") as tmp:
        work = Path(tmp)
        code, data = work / "code", work / "data"
        _materialize_code(spec, code)
        _prepare_data(spec, task.inputs, data)
        for folder in (work, code, data):
            folder.chmod(0o755)
        argv = [runtime.python, f"/code/{spec.entrypoint}"]
        binds = {str(code): "/code", str(data): "/data"}
        with run_jailed(argv, limits=limits, ro_binds=binds, runtime=runtime) as result:
            failed = result.exit_code != 0 or result.killed_by is not None
            files, rejected = collect(result.output_fd, limits, str(work), released=not failed)
        report: dict[str, Any] = {
            "kind": "custom",
            "differentially_private": False,
            "needs_review": True,
            "note": NOT_DP_NOTE,
            "exit_code": result.exit_code,
            "killed_by": result.killed_by,
            "succeeded": not failed,
            "wall_s": round(result.wall_s, 3),
            "cpu_s": round(result.cpu_s, 3),
            "process_cap": result.process_cap,
            "peak_processes": result.peak_processes,
            "limits": asdict(limits),
            "stdout": {"tail": result.stdout.text, "bytes": result.stdout.total_bytes},
            "stderr": {"tail": result.stderr.text, "bytes": result.stderr.total_bytes},
            "files": [{k: v for k, v in f.items() if k != "path"} for f in files],
            "rejected": rejected,
        }
        _write_zip(out, files)
    return Outcome(
        output_path=str(out),
        output_sha256=sha256_file(out),
        rows=len(files),
        epsilon=0.0,
        delta=0.0,
        report=report,
    )


def _check_grade(grade: Grade) -> None:
    if grade == Grade.CORE:
        # art. 62: core data gets the strictest protection; code that sees every
        # row cannot be bounded by a reviewer's look at its output.
        raise PolicyViolation(
            "operator code may not run on core data (核心数据, art. 62); "
            "use a declarative job kind (aggregate) instead"
        )


# -- code ---------------------------------------------------------------------------------------


def _materialize_code(spec: CustomSpec, folder: Path) -> None:
    """Write the spec's code into ``folder`` (files 0644, folders 0755)."""
    folder.mkdir(mode=0o755)
    if spec.source is not None:
        _write_new(folder, spec.entrypoint, spec.source.encode())
        return
    assert spec.archive is not None
    for name, content in _read_archive(spec.archive, spec.entrypoint):
        _write_new(folder, name, content)


def _write_new(folder: Path, name: str, content: bytes) -> None:
    """Create ``folder/name`` (and its parents), never following or replacing anything."""
    parts = PurePosixPath(name).parts
    current = folder
    for part in parts[:-1]:
        current = current / part
        if not current.is_dir() or current.is_symlink():
            current.mkdir(mode=0o755)
    fd = os.open(current / parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _read_archive(archive: str, entrypoint: str) -> list[tuple[str, bytes]]:
    """The files of a base64 zip, checked against traversal, links and zip bombs.

    Why not ``ZipFile.extractall``: it drops ``..`` silently instead of refusing
    the archive, follows nothing but also bounds nothing; a refusal names the
    problem and sizes are bounded while reading, not trusted from the header.

    Returns:
        (relative path, content) per file, in archive order.

    Raises:
        InvalidJobSpec: Not base64 / not a zip, too big, too many members, an
            unsafe member name, a link or special file, encryption, or no entry point.
    """
    try:
        raw = base64.b64decode(archive, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidJobSpec("archive: not valid base64") from None
    if len(raw) > MAX_CUSTOM_ARCHIVE_BYTES:
        raise InvalidJobSpec(f"archive: larger than {MAX_CUSTOM_ARCHIVE_BYTES} bytes")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError):
        raise InvalidJobSpec("archive: not a zip file") from None
    members = zf.infolist()
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise InvalidJobSpec(f"archive: more than {MAX_ARCHIVE_MEMBERS} members")
    files: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    total = 0
    for number, info in enumerate(members, start=1):
        name = _member_name(info, number)
        if name is None:
            continue
        if name in seen:
            raise InvalidJobSpec(f"archive: member {number} repeats an earlier path")
        seen.add(name)
        content = _read_member(zf, info, number, MAX_ARCHIVE_UNPACKED - total)
        total += len(content)
        files.append((name, content))
    if entrypoint not in seen:
        raise InvalidJobSpec(f"archive: it has no entry point '{entrypoint}'")
    names = set(seen)
    for name in names:
        for parent in PurePosixPath(name).parents:
            if str(parent) in names:
                raise InvalidJobSpec("archive: a path is both a file and a folder")
    return files


def _member_name(info: zipfile.ZipInfo, number: int) -> str | None:
    """A member's safe relative path; ``None`` for a folder entry."""
    raw = info.filename
    mode = info.external_attr >> 16
    if info.flag_bits & 0x1:
        raise InvalidJobSpec(f"archive: member {number} is encrypted")
    if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise InvalidJobSpec(f"archive: member {number} is a link or special file")
    if "\\" in raw or "\x00" in raw or raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise InvalidJobSpec(f"archive: member {number} has an absolute or unsafe path")
    path = PurePosixPath(raw)
    if any(part in ("..", ".") or part.startswith(".") for part in path.parts) or not path.parts:
        raise InvalidJobSpec(f"archive: member {number} has a path with '..' or a hidden part")
    if len(path.parts) > 8 or len(raw) > 200:
        raise InvalidJobSpec(f"archive: member {number} has a path too deep or too long")
    if info.is_dir():
        return None
    return str(path)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, number: int, room: int) -> bytes:
    """A member's bytes, stopping at ``room`` whatever its header declares."""
    if info.file_size > room:
        raise InvalidJobSpec(f"archive: unpacks to more than {MAX_ARCHIVE_UNPACKED} bytes")
    content = bytearray()
    try:
        with zf.open(info) as handle:
            while chunk := handle.read(min(_CHUNK, room - len(content) + 1)):
                content += chunk
                if len(content) > room:
                    raise InvalidJobSpec(
                        f"archive: unpacks to more than {MAX_ARCHIVE_UNPACKED} bytes"
                    )
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError):
        raise InvalidJobSpec(f"archive: member {number} cannot be read") from None
    return bytes(content)


# -- data ---------------------------------------------------------------------------------------


def _prepare_data(spec: CustomSpec, inputs: Mapping[str, str], folder: Path) -> None:
    """One Parquet file per granted dataset, concatenated from its stored parts."""
    import glob

    import polars as pl

    folder.mkdir(mode=0o755)
    for name in spec.datasets:
        if name not in inputs:
            raise InternalError("the task carries no input for one of its datasets")
        parts = sorted(glob.glob(inputs[name]))
        if not parts:
            raise JobFailed(f"dataset '{name}' has no stored data")
        target = folder / f"{name}.parquet"
        with evaluation_errors():
            pl.scan_parquet(parts).sink_parquet(target)
        target.chmod(0o644)


# -- outputs ------------------------------------------------------------------------------------


def collect(
    output_fd: int, limits: Limits, scratch: str, *, released: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Check every entry of the jail's ``/output`` from outside; copy the accepted files out.

    Args:
        output_fd: Directory descriptor of ``/output`` (the jail has ended).
        limits: The run's limits (file count).
        scratch: A private host folder the accepted files are copied into.
        released: ``False`` (a failed run): every file is refused, and listed.

    Returns:
        (accepted files as ``{"name", "format", "bytes", "sha256", "path"}``,
        refused entries as ``{"name", "reason"}``), both in name order. Names
        of refused entries are sanitized.
    """
    import hashlib

    names: list[str] = []
    with os.scandir(output_fd) as entries:
        for entry in entries:
            names.append(entry.name)
            if len(names) > limits.output_files:
                return [], [
                    {"name": "*", "reason": f"more than {limits.output_files} files in /output"}
                ]
    files: list[dict[str, Any]] = []
    rejected: list[dict[str, str]] = []
    for name in sorted(names):
        reason = _refusal(output_fd, name) if released else "the run failed; nothing is released"
        copy = Path(scratch) / f"out-{len(files):04d}"
        if reason is None:
            reason = _copy_checked(output_fd, name, copy)
        if reason is not None:
            rejected.append({"name": _sanitize(name), "reason": reason})
            continue
        digest = hashlib.sha256(copy.read_bytes()).hexdigest()
        files.append(
            {
                "name": name,
                "format": OUTPUT_FORMATS[Path(name).suffix.lower()],
                "bytes": copy.stat().st_size,
                "sha256": digest,
                "path": str(copy),
            }
        )
    return files, rejected


def _sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "?", name)[:100]


def _refusal(dir_fd: int, name: str) -> str | None:
    """Why an entry of ``/output`` is refused by its name and type (``None``: it is not)."""
    if not _OUTPUT_NAME.match(name):
        return "name not allowed (letters, digits, '_', '.', '-'; at most 100)"
    if Path(name).suffix.lower() not in OUTPUT_FORMATS:
        return f"suffix not allowed (allowed: {', '.join(sorted(OUTPUT_FORMATS))})"
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return "cannot be read"
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    if stat.S_ISDIR(st.st_mode):
        return "a folder (only files directly in /output are collected)"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (FIFO, socket or device)"
    if st.st_nlink != 1:
        return "a hard link"
    return None


def _copy_checked(dir_fd: int, name: str, copy: Path) -> str | None:
    """Copy ``name`` out without following links and check its content; a refusal or ``None``."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return "cannot be opened"
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file (FIFO, socket or device)"
        with copy.open("wb") as dst:
            while chunk := src.read(_CHUNK):
                dst.write(chunk)
    reason = _sniff(copy, OUTPUT_FORMATS[Path(name).suffix.lower()])
    if reason is not None:
        copy.unlink()
    return reason


def _sniff(path: Path, fmt: str) -> str | None:
    """Whether the content is what the suffix claims (``None``) or why not.

    The service's automatic checks look deeper (:mod:`sandbox.checks`); this is
    the gate at the jail's door.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    if fmt == "png":
        return None if head == _PNG else "not a PNG image (no PNG signature)"
    if fmt == "parquet":
        if size < 12 or head[:4] != b"PAR1" or tail != b"PAR1":
            return "not a Parquet file (no Parquet magic at both ends)"
        import pyarrow.parquet as pq

        try:
            pq.read_metadata(path)
        except Exception:
            return "not a readable Parquet file"
        return None
    return _check_text(path, fmt)


def _check_text(path: Path, fmt: str) -> str | None:
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                if len(chunk.translate(None, _CONTROL)) != len(chunk):
                    return "text with control characters"
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "not UTF-8 text"
    if fmt == "json":
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, RecursionError):
            return "not valid JSON"
    return None


def _write_zip(out: Path, files: list[dict[str, Any]]) -> None:
    """Pack the accepted files, in name order, with fixed timestamps and modes (deterministic)."""
    partial = out.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(files, key=lambda f: str(f["name"])):
            info = zipfile.ZipInfo(str(f["name"]), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as dst, open(f["path"], "rb") as src:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
    os.replace(partial, out)
