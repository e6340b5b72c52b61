"""The ``custom`` job kind: operator code run in a jail; its output always needs review.

Contract for the operator's code (a :class:`~jobs.kinds.custom.spec.CustomSpec`):

* the code is at ``/code`` (read-only, copied in from memory) and
  ``python /code/<entrypoint>`` runs in ``/tmp`` as uid 65534, with no
  network and a cleared environment;
* each granted dataset is one Parquet file at ``/data/<dataset>.parquet``
  (read-only). The stored dataset is a folder of part files; the trusted
  wrapper concatenates them into one file in a private folder first, so the
  code sees one file per dataset, as the contract says, and no storage path;
* outputs are files written directly in ``/output`` with the suffix ``.csv``,
  ``.parquet``, ``.json``, ``.png`` or ``.txt``; anything else is refused;
* stdout and stderr are kept (their last 64 KiB each) for the reviewer only.

After the run, :mod:`jobs.kinds.custom.outputs` reads ``/output`` from outside the
jail: stated sizes capped before any copy, content matched to its suffix, PNG
images decoded and re-encoded; the accepted files are packed as
``file-1.csv``, ``file-2.png`` ... (names the sandbox chooses) into
``<quarantine>/job-N.zip``. The outcome's ``report`` holds the exit status,
time used, what killed the run, the stream tails, the code's own names of the
files and the refused files with reasons; the service shows it to reviewers,
never to the operator.

A run that fails (non-zero exit, killed by a limit, files refused) does not
raise: nothing is released without review anyway, the reviewer needs the logs,
and a failure the operator could see would be a channel the code chooses. Its
report lists ``problems``, which the service turns into a failing check; when
even the trusted wrapper cannot finish (the service's time limit, a crash),
the service asks :func:`failed_outcome` for an empty outcome that goes to
review the same way. Custom outputs are never differentially private by
construction: the ledger charges nothing (:func:`charge`) and the report says
that review is what protects them.

The wrapper's private folders (``sandbox-custom-<pid>-*`` in the temporary
folder) are removed on every way out of :func:`run`; a worker killed from
outside (a cancelled task) leaves its folder behind, and the next run on the
host removes folders whose process is gone.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any

from jobs import storage
from jobs.dp.accounting import Charge
from jobs.errors import InternalError, InvalidJobSpec, JobFailed
from jobs.kinds.custom.jail import Limits, Runtime, run_jailed, sweep_private_folders
from jobs.kinds.custom.outputs import IMAGE_NOTE, OUTPUT_FORMATS, collect
from jobs.kinds.custom.spec import MAX_CUSTOM_ARCHIVE_BYTES, CustomSpec
from jobs.spec import parse_as
from jobs.task import Outcome, Task, evaluation_errors, sha256_file
from policies.catalog import ColumnTag, Grade, Product, check_grade_allows

#: Most files a code archive may hold, and their total unpacked size.
MAX_ARCHIVE_MEMBERS = 200
MAX_ARCHIVE_UNPACKED = 20 * 1024 * 1024
_CHUNK = 1 << 20
#: Prefix of the wrapper's private folders in the temporary folder (``<prefix><pid>-*``).
WORK_PREFIX = "sandbox-custom-"
__all__ = ["OUTPUT_FORMATS", "charge", "collect", "failed_outcome", "run", "validate"]
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
    spec = parse_as(CustomSpec, task.spec)
    if spec is None:
        raise InvalidJobSpec("jobs.kinds.custom.engine runs only custom jobs")
    for name in spec.datasets:
        _check_grade(Grade(task.grades.get(name, Grade.GENERAL)))
    limits = Limits.from_grant(task.options.get("limits"))
    runtime = Runtime.current()
    out = Path(task.output_path).with_suffix(".zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_work_folders()
    work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-"))
    try:
        data = work / "data"
        _prepare_data(spec, task.inputs, data)
        argv = [runtime.python, f"/code/{spec.entrypoint}"]
        binds = {str(data): "/data"}
        code = code_files(spec)
        with run_jailed(argv, limits=limits, ro_binds=binds, runtime=runtime, files=code) as result:
            failed = result.exit_code != 0 or result.killed_by is not None
            scratch = work / "out"  # the copies: owner-only, like the whole work folder
            scratch.mkdir(mode=0o700)
            files, rejected = collect(result.output_fd, limits, str(scratch), released=not failed)
        report = _report(limits, files, rejected, failed) | {
            "exit_code": result.exit_code,
            "killed_by": result.killed_by,
            "wall_s": round(result.wall_s, 3),
            "cpu_s": round(result.cpu_s, 3),
            "process_cap": result.process_cap,
            "peak_processes": result.peak_processes,
            "stdout": {"tail": result.stdout.text, "bytes": result.stdout.total_bytes},
            "stderr": {"tail": result.stderr.text, "bytes": result.stderr.total_bytes},
        }
        _write_zip(out, files)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Outcome(
        output_path=str(out),
        output_sha256=sha256_file(out),
        rows=len(files),
        epsilon=0.0,
        delta=0.0,
        report=report,
    )


def failed_outcome(task: Task, reason: str) -> Outcome:
    """An empty outcome for review when the run could not finish (its time limit, a crash).

    The operator must not see such a failure: the code could have caused it on
    purpose, when the data held some value. The reviewer sees ``reason`` as a
    problem of the run, which fails review like any other.

    Args:
        task: The task that did not finish.
        reason: Why, for the reviewer (no data value).

    Returns:
        An outcome with an empty zip in quarantine and a report that lists the problem.
    """
    limits = Limits.from_grant(task.options.get("limits"))
    out = Path(task.output_path).with_suffix(".zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_zip(out, [])
    report = _report(limits, [], [], failed=True) | {"error": reason}
    report["problems"] = [f"the run did not finish: {reason}"]
    return Outcome(str(out), sha256_file(out), rows=0, epsilon=0.0, delta=0.0, report=report)


def _report(
    limits: Limits, files: list[dict[str, Any]], rejected: list[dict[str, str]], failed: bool
) -> dict[str, Any]:
    """The reviewer's part of the report: what happened to the files, and what must fail review."""
    problems = []
    if failed:
        problems.append("the run failed (see exit code, what killed it and stderr)")
    if rejected and not failed:
        problems.append(f"{len(rejected)} files were refused at the jail's door")
    images = sum(f["format"] == "png" for f in files)
    return {
        "kind": "custom",
        "differentially_private": False,
        "needs_review": True,
        "note": NOT_DP_NOTE,
        "succeeded": not failed,
        "limits": asdict(limits),
        # The code's own names, for the reviewing stewards only (released as file-N).
        "files": [{k: v for k, v in f.items() if k != "path"} for f in files],
        "rejected": rejected,
        "images": images,
        "image_note": IMAGE_NOTE if images else "",
        "problems": problems,
    }


def sweep_work_folders() -> None:
    """Remove private folders that runs left behind when their process was killed."""
    sweep_private_folders(WORK_PREFIX)


def _check_grade(grade: Grade) -> None:
    # art. 62: core data gets the strictest protection; code that sees every
    # row cannot be bounded by a reviewer's look at its output.
    check_grade_allows(grade, Product.PROGRAM_OUTPUT)


# -- code ---------------------------------------------------------------------------------------


def code_files(spec: CustomSpec) -> dict[str, bytes]:
    """The spec's code as files under ``/code`` (copied into the jail from memory)."""
    if spec.source is not None:
        return {f"/code/{spec.entrypoint}": spec.source.encode()}
    assert spec.archive is not None
    return {
        f"/code/{name}": content for name, content in _read_archive(spec.archive, spec.entrypoint)
    }


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
    """One Parquet file per granted dataset, concatenated from its stored parts.

    The copy stays behind the wrapper's owner-only folder (``0700``; nobody else
    reaches it by path) and is read-only. A service that is not root shares its
    uid with the jail: the folder and files are its owner's only. As root the jail
    runs as a fresh uid, and root binds the folder (in the jail's own ``0700``
    folder) before dropping to it, so that uid needs the read bits for others.
    """
    shared = os.geteuid() == 0
    folder.mkdir(mode=0o755 if shared else 0o700)
    folder.chmod(0o755 if shared else 0o700)
    for name in spec.datasets:
        if name not in inputs:
            raise InternalError("the task carries no input for one of its datasets")
        parts = storage.glob(inputs[name])
        if not parts:
            raise JobFailed(f"dataset '{name}' has no stored data")
        target = folder / f"{name}.parquet"
        with evaluation_errors():
            storage.scan_parquet(parts).sink_parquet(target)
        target.chmod(0o444 if shared else 0o400)


# -- outputs ------------------------------------------------------------------------------------


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
