"""Where stored files live: a local folder or S3-compatible object storage, one interface.

Datasets' partitions, quarantined outputs and released files are named by a
*location*: a local path (the default, under ``SANDBOX_DATA_DIR``) or an
``s3://bucket/key`` URL (``SANDBOX_STORAGE_URL=s3://bucket/prefix``). Every
read, write, listing and deletion of such a file goes through this module, so
the service and the Ray workers on any node reach the same files with no
shared volume.

Objects are reached through :class:`pyarrow.fs.S3FileSystem`: pyarrow is a
dependency already (s3fs would add aiobotocore and botocore), Arrow's Parquet
reader uses it natively, and it streams large uploads as multipart uploads.
Polars scans S3 with its own reader (object_store), given the same
credentials (:func:`polars_options`).

Credentials never come from the database nor from a job's task: each process
(the API, a job worker, a Ray worker on another node) reads its own
environment: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``) and
``AWS_ENDPOINT_URL`` for an S3-compatible server (MinIO, Ceph RGW, a cloud's
own), each either as the value or as ``<NAME>_FILE`` naming a file that holds
it (a Kubernetes or Docker secret). Nothing here logs them.

Atomicity: a local write goes to a temporary file renamed into place; an S3
PUT (a multipart upload included) makes an object visible only once it is
complete, so a reader sees no object or the whole one, never a partial file.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import os
import posixpath
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from jobs import scratch

if TYPE_CHECKING:
    import polars as pl
    from pyarrow import fs as pafs

__all__ = [
    "S3Access",
    "cached",
    "copy",
    "delete",
    "delete_tree",
    "environment",
    "exists",
    "filesystem",
    "glob",
    "is_remote",
    "join",
    "local_copy",
    "name",
    "open_input",
    "parent",
    "polars_options",
    "put_file",
    "scan_parquet",
    "sha256",
]

_SCHEME = "s3://"
#: The environment variables credentials come from (each also as ``<NAME>_FILE``).
_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
)


def is_remote(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` names an object in S3-compatible storage.

    >>> is_remote("s3://bucket/data"), is_remote("/srv/data")
    (True, False)
    """
    return str(location).startswith(_SCHEME)


def join(base: str | os.PathLike[str], *parts: str) -> str:
    """``base`` followed by ``parts``, a URL for a URL and a path for a path.

    >>> join("s3://bucket/prefix/", "datasets", "a")
    's3://bucket/prefix/datasets/a'
    """
    if is_remote(base):
        return posixpath.join(str(base).rstrip("/"), *parts)
    return str(Path(base).joinpath(*parts))


def parent(location: str) -> str:
    """The folder (or key prefix) that holds ``location``.

    >>> parent("s3://bucket/q/job-1-a1.parquet")
    's3://bucket/q'
    """
    return posixpath.dirname(location) if is_remote(location) else str(Path(location).parent)


def name(location: str) -> str:
    """The last part of ``location`` (a file name).

    >>> name("s3://bucket/q/job-1-a1.parquet")
    'job-1-a1.parquet'
    """
    return posixpath.basename(location) if is_remote(location) else Path(location).name


@dataclass(frozen=True, slots=True, repr=False)
class S3Access:
    """How this process reaches S3: read from its own environment, never from the catalog.

    Its ``repr`` names no credential, so a log line that shows it leaks nothing.
    """

    access_key: str | None
    secret_key: str | None
    session_token: str | None
    region: str | None
    endpoint_url: str | None

    def __repr__(self) -> str:
        return f"S3Access(endpoint_url={self.endpoint_url!r}, region={self.region!r})"

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> S3Access:
        """Each variable as itself or as ``<NAME>_FILE`` (the file's content, stripped)."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, str | None] = {}
        for variable in _VARIABLES:
            value = env.get(variable)
            file = env.get(f"{variable}_FILE")
            if value is None and file:
                value = Path(file).read_text(encoding="utf-8").strip()
            values[variable] = value or None
        return cls(
            access_key=values["AWS_ACCESS_KEY_ID"],
            secret_key=values["AWS_SECRET_ACCESS_KEY"],
            session_token=values["AWS_SESSION_TOKEN"],
            region=values["AWS_REGION"] or values["AWS_DEFAULT_REGION"],
            endpoint_url=values["AWS_ENDPOINT_URL"],
        )


def environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables of this process that say how to reach S3 (for a child process)."""
    env = os.environ if environ is None else environ
    names = [*_VARIABLES, *(f"{v}_FILE" for v in _VARIABLES)]
    return {n: env[n] for n in names if n in env}


def filesystem(location: str | os.PathLike[str]) -> tuple[pafs.FileSystem, str]:
    """The Arrow filesystem that holds ``location`` and the path within it."""
    from pyarrow import fs as pafs

    if not is_remote(location):
        return pafs.LocalFileSystem(), str(Path(location).absolute())
    return _s3(S3Access.from_environment()), str(location)[len(_SCHEME) :]


@functools.lru_cache(maxsize=4)
def _s3(access: S3Access) -> pafs.S3FileSystem:
    """One client per set of credentials (a rotated key in the environment gets a new one)."""
    from pyarrow import fs as pafs

    options: dict[str, Any] = {}
    if access.access_key and access.secret_key:
        options |= {"access_key": access.access_key, "secret_key": access.secret_key}
        if access.session_token:
            options["session_token"] = access.session_token
    if access.region:
        options["region"] = access.region
    if access.endpoint_url:
        scheme, _, host = access.endpoint_url.partition("://")
        options |= {"endpoint_override": host.rstrip("/"), "scheme": scheme}
    return pafs.S3FileSystem(**options)


def polars_options(location: str | os.PathLike[str]) -> dict[str, str] | None:
    """Polars' ``storage_options`` for ``location``: None for a local path."""
    if not is_remote(location):
        return None
    access = S3Access.from_environment()
    options = {
        "aws_access_key_id": access.access_key,
        "aws_secret_access_key": access.secret_key,
        "aws_session_token": access.session_token,
        "aws_region": access.region or "us-east-1",
        "aws_endpoint_url": access.endpoint_url,
    }
    if access.endpoint_url and access.endpoint_url.startswith("http://"):
        options["aws_allow_http"] = "true"
    return {key: value for key, value in options.items() if value}


def scan_parquet(source: str | list[str], **kwargs: Any) -> pl.LazyFrame:
    """A lazy scan of Parquet files (a location, a glob or a list), local or remote."""
    import polars as pl

    first = source[0] if isinstance(source, list) and source else source
    options = polars_options(str(first)) if first else None
    if options is not None:
        kwargs["storage_options"] = options
    return pl.scan_parquet(source, **kwargs)


def glob(pattern: str) -> list[str]:
    """The files matching ``pattern`` (wildcards in the last part only), sorted."""
    from pyarrow import fs as pafs

    if not is_remote(pattern):
        import glob as globbing

        return sorted(globbing.glob(pattern))
    system, path = filesystem(pattern)
    folder, wanted = posixpath.split(path)
    infos = system.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    return sorted(
        _SCHEME + i.path
        for i in infos
        if i.type == pafs.FileType.File and fnmatch.fnmatchcase(posixpath.basename(i.path), wanted)
    )


def exists(location: str) -> bool:
    """Whether a file is stored at ``location``."""
    from pyarrow import fs as pafs

    system, path = filesystem(location)
    return bool(system.get_file_info(path).type == pafs.FileType.File)


@contextmanager
def open_input(location: str) -> Iterator[BinaryIO]:
    """Read a stored file as a stream."""
    if not is_remote(location):
        with open(location, "rb") as handle:
            yield handle
        return
    system, path = filesystem(location)
    with system.open_input_stream(path) as handle:
        yield handle


def sha256(location: str) -> str:
    """Hex SHA-256 of a stored file's bytes."""
    digest = hashlib.sha256()
    with open_input(location) as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def put_file(local: Path, location: str) -> None:
    """Store the local file ``local`` at ``location``, whole or not at all."""
    if not is_remote(location):
        target = Path(location)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as out, local.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return
    system, path = filesystem(location)
    # One object appears when the (multipart) upload completes, never before; but
    # pyarrow's stream completes it on close even when the copy broke off (it has no
    # abort), so a broken copy deletes the object it left.
    try:
        with local.open("rb") as src, system.open_output_stream(path) as out:
            shutil.copyfileobj(src, out, 8 << 20)
    except BaseException:
        with suppress(OSError):
            system.delete_file(path)
        raise


def copy(source: str, target: str) -> None:
    """Copy a stored file to another location, whole or not at all."""
    if is_remote(source) and is_remote(target):
        system, path = filesystem(source)
        system.copy_file(path, filesystem(target)[1])  # a server-side copy: one object
        return
    with local_copy(source) as local:
        put_file(local, target)


@contextmanager
def local_copy(location: str) -> Iterator[Path]:
    """A local file with ``location``'s bytes (the file itself when it is local).

    A remote object is downloaded into a private temporary folder, deleted on exit.
    """
    if not is_remote(location):
        yield Path(location)
        return
    with scratch.folder("sandbox-storage-") as folder:  # swept if this process is killed
        local = folder / name(location)
        with open_input(location) as src, local.open("wb") as out:
            shutil.copyfileobj(src, out, 8 << 20)
        yield local


def cached(location: str, sha256_hex: str, folder: Path) -> Path | None:
    """A local file with ``location``'s bytes whose SHA-256 is ``sha256_hex``, or None.

    A local location is itself (checked). A remote object is downloaded once into
    ``folder`` (private, named by its hash, renamed into place when whole and
    checked) and served from there after: stored outputs never change, and a
    web server sends a local file. A copy is served only while its object is still
    stored (retention and withdrawal delete the object: the copy goes with it on the
    next read), and copies not read for :data:`CACHE_HOURS` are deleted when another
    is made, so the folder does not grow without end.
    """
    if not is_remote(location):
        local = Path(location)
        if local.is_symlink() or not local.is_file() or sha256(location) != sha256_hex:
            return None
        return local
    target = folder / sha256_hex / name(location)
    if target.is_file():
        if not exists(location):
            shutil.rmtree(target.parent, ignore_errors=True)
            return None
        target.touch()  # read now: kept another CACHE_HOURS
        return target
    if not exists(location):
        return None
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _evict(folder, keep=target.parent)
    target.parent.mkdir(mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".partial")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, open_input(location) as src:
            while block := src.read(8 << 20):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != sha256_hex:
            return None
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


#: Hours a downloaded copy of a stored output stays in the cache after its last read.
CACHE_HOURS = 24


def _evict(folder: Path, keep: Path) -> None:
    """Delete the cache's copies not read for :data:`CACHE_HOURS` (other than ``keep``)."""
    oldest = time.time() - CACHE_HOURS * 3600
    for entry in folder.iterdir():
        if entry == keep or not entry.is_dir():
            continue
        files = [f.stat().st_mtime for f in entry.iterdir() if f.is_file()]
        if max(files, default=0.0) < oldest:
            shutil.rmtree(entry, ignore_errors=True)


def delete(location: str) -> bool:
    """Delete a stored file (idempotent); whether it was there."""
    if not is_remote(location):
        local = Path(location)
        existed = local.exists() or local.is_symlink()
        local.unlink(missing_ok=True)
        return existed
    if not exists(location):
        return False
    system, path = filesystem(location)
    system.delete_file(path)
    return True


def delete_tree(location: str) -> bool:
    """Delete a stored folder (a key prefix) and all under it; whether anything was there."""
    if not is_remote(location):
        folder = Path(location)
        if not folder.is_dir():
            return False
        shutil.rmtree(folder)
        return True
    files = glob(join(location, "*"))
    if not files:
        return False
    system, path = filesystem(location)
    system.delete_dir_contents(path, missing_dir_ok=True)
    return True
