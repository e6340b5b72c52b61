"""A job's output file as downloaded: its name, and readers for each output shape.

A kind's output is a table (Parquet), a model (``.json``, or ``.safetensors``
for an MLP) or a ``.zip`` of files: its :class:`~jobs.kinds.base.OutputShape`
and its file formats come from the registry (:data:`jobs.kinds.KINDS`). Nothing
here writes a file under a name the service or an archive chose: local names
are built from the job id and a known suffix.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import polars as pl

from jobs.kinds import KINDS, JobKind
from policies import errors as E
from sandbox.client import html as H

#: Uncompressed bytes :func:`read_files` holds in memory at most (zip bombs).
MAX_FILES_BYTES = 1 << 30


def kind_named(name: str) -> JobKind | None:
    """The registered kind called ``name``; ``None`` for one this client does not know."""
    return KINDS[name] if name in KINDS else None


def suffixes(kind: str) -> tuple[str, ...]:
    """The suffixes a ``kind`` job's output may have (none for an unknown kind).

    >>> suffixes("no such kind")
    ()
    """
    found = kind_named(kind)
    return tuple(sorted(f".{f}" for f in found.output_formats)) if found else ()


def _known() -> frozenset[str]:
    return frozenset(f".{f}" for kind in KINDS for f in kind.output_formats)


#: What ``pip install`` adds for :meth:`Table.to_pandas`.
PANDAS_EXTRA = "pip install 'data-sandbox-client[pandas]' (or 'data-sandbox[pandas]')"


class Table(pl.DataFrame):
    """A released table: a polars frame whose :meth:`to_pandas` names the extra it needs."""

    @classmethod
    def of(cls, frame: pl.DataFrame) -> Table:
        """``frame`` as a :class:`Table` (the same data, not copied)."""
        table = cls.__new__(cls)
        table._df = frame._df
        return table

    def to_pandas(self, *args: Any, **kwargs: Any) -> Any:
        """The table as a pandas DataFrame (polars' ``to_pandas``, with pandas and pyarrow).

        Raises:
            ImportError: pandas or pyarrow is missing; the message names the extra.
        """
        try:
            import pandas  # noqa: F401
            import pyarrow  # noqa: F401
        except ImportError as err:
            raise ImportError(
                f"job.result().to_pandas() needs pandas and pyarrow: {PANDAS_EXTRA}; "
                "or keep the polars table job.result() returns"
            ) from err
        return super().to_pandas(*args, **kwargs)


@dataclass(frozen=True)
class Output:
    """A job's output as the service sent it; its SHA-256 was checked on arrival.

    Attributes:
        job_id: The job it belongs to.
        suffix: ``.parquet``, ``.json``, ``.safetensors`` or ``.zip``.
        content: The file's bytes.
        sha256: Its hex SHA-256, as the service recorded it.
    """

    job_id: int
    suffix: str
    content: bytes = field(repr=False)
    sha256: str

    @property
    def filename(self) -> str:
        """``job-<id><suffix>``, the name the service gives released files."""
        return f"job-{self.job_id}{self.suffix}"

    def _repr_html_(self) -> str:
        items = {"size (bytes)": len(self.content), "SHA-256": self.sha256}
        return H.fields(self.filename, items)


def suffix_of(content_disposition: str, kind: str) -> str:
    """The output's suffix from the ``Content-Disposition`` filename, else from the job kind.

    Only the suffix is taken from the header, and only a known one: the name
    itself never reaches the file system.

    Args:
        content_disposition: The response header (may be empty).
        kind: The job's kind, for when the header names no known suffix.

    Raises:
        InternalError: Neither the header nor the kind tell the suffix.

    >>> from jobs.kinds import OutputShape
    >>> files = next(k.name for k in KINDS if k.shape is OutputShape.FILES)
    >>> suffix_of('attachment; filename="job-3.safetensors"', files)
    '.safetensors'
    >>> suffix_of("", files)
    '.zip'
    """
    header = Message()
    header["content-disposition"] = content_disposition
    name = header.get_filename() or ""
    suffix = os.path.splitext(name)[1].lower()
    if suffix in _known():
        return suffix
    options = suffixes(kind)
    if len(options) == 1:
        return options[0]
    raise E.InternalError(
        f"the service sent a {kind or 'job'} output without a known file type; "
        "try again or tell your administrator"
    )


def target(output: Output, path: str | Path | None) -> Path:
    """Where :meth:`Job.download` writes ``output``.

    Args:
        output: The downloaded output.
        path: ``None`` (the current folder), an existing folder, or a file path;
            a file path without a suffix gets the output's.

    Raises:
        InvalidRequest: The file path's suffix is not the output's.
    """
    if path is None:
        return Path.cwd() / output.filename
    path = Path(path).expanduser()
    if path.is_dir():
        return path / output.filename
    if not path.suffix:
        return path.with_name(path.name + output.suffix)
    if path.suffix.lower() != output.suffix:
        raise E.InvalidRequest(
            f"job {output.job_id}'s output is a {output.suffix} file, not {path.suffix}: "
            f"name it with {output.suffix}, or pass a folder"
        )
    return path


def write(output: Output, path: Path) -> Path:
    """Write ``output`` to ``path`` through a temporary file (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{output.filename}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(output.content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _unsafe(name: str) -> bool:
    """A member name that could reach outside a folder if someone extracted it."""
    return (
        not name
        or "/" in name
        or "\\" in name
        or "\0" in name
        or ".." in name
        or ":" in name  # a Windows drive ("C:x") or an NTFS stream
    )


def read_files(content: bytes, max_bytes: int = MAX_FILES_BYTES) -> dict[str, bytes]:
    """The files of a ``custom`` job's zip, name to bytes, read in memory only.

    Nothing is extracted to disk, so no member name is ever used as a path;
    still, a name with a path separator or ``..`` is refused, as the service
    writes a flat archive and such a name means the file is not what it wrote.

    Args:
        content: The zip's bytes.
        max_bytes: Uncompressed bytes to read at most.

    Returns:
        Each member's name and bytes, in archive order.

    Raises:
        InternalError: Not a zip, a member name is unsafe or repeated, or the
            files are larger than ``max_bytes`` (the message holds counts only).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as err:
        raise E.InternalError("the output is not a zip archive; try job.download()") from err
    with archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        unsafe = sum(_unsafe(i.filename) for i in members)
        if unsafe:
            raise E.InternalError(
                f"{unsafe} of {len(members)} files in the archive have a path or '..' in "
                "their names; refused: tell the data bureau"
            )
        if len({i.filename for i in members}) != len(members):
            raise E.InternalError("the archive names a file twice; refused: tell the data bureau")
        declared = sum(i.file_size for i in members)
        if declared > max_bytes:
            raise E.InternalError(
                f"the archive's files hold {declared} bytes, over {max_bytes}; "
                "use job.download() and open it with a zip tool"
            )
        try:
            return {i.filename: archive.read(i) for i in members}
        except (zipfile.BadZipFile, OSError) as err:
            raise E.InternalError(f"the archive is damaged ({type(err).__name__})") from err


def read_model(output: Output) -> dict[str, Any]:
    """A ``train`` job's model: its JSON, or the safetensors metadata with tensor shapes.

    A ``.json`` model is returned as written (format, features, parameters,
    metrics, privacy). For ``.safetensors`` the header's metadata (each value
    decoded from JSON, as the service writes it) is returned with
    ``"tensors"``: name → ``{"dtype", "shape"}``; the weights stay in the
    file (``job.download()``, then ``safetensors.numpy.load_file``).

    Raises:
        InvalidRequest: A safetensors model and the ``safetensors`` package
            is not installed (the message says to install it).
        InternalError: The file is not a readable model.
    """
    if output.suffix == ".json":
        try:
            return dict(json.loads(output.content))
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError) as err:
            raise E.InternalError("the model file is not valid JSON") from err
    if output.suffix != ".safetensors":
        raise E.InvalidRequest(f"job {output.job_id}'s output is not a model")
    return _read_safetensors(output.content)


def _read_safetensors(content: bytes) -> dict[str, Any]:
    try:
        from safetensors import safe_open
    except ImportError as err:
        raise E.InvalidRequest(
            "this model is a .safetensors file: `pip install safetensors` to read it with "
            "job.model(), or job.download() it"
        ) from err
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"  # safe_open reads files only
        path.write_bytes(content)
        try:
            with safe_open(str(path), framework="numpy") as handle:
                meta = handle.metadata() or {}
                tensors = {
                    name: {
                        "dtype": str(handle.get_slice(name).get_dtype()),
                        "shape": list(handle.get_slice(name).get_shape()),
                    }
                    for name in handle.keys()
                }
        except Exception as err:  # safetensors raises its own SafetensorError
            raise E.InternalError(f"the model file is damaged ({type(err).__name__})") from err
    try:
        header: dict[str, Any] = {k: json.loads(v) for k, v in meta.items()}
    except json.JSONDecodeError:
        header = dict(meta)
    return header | {"tensors": tensors}
