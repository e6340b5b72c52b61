"""`make dist`'s two wheels, installed offline into fresh virtual environments.

The wheels are built as ``make dist`` builds them (``pip wheel --no-deps
--no-build-isolation``), from a copy of the sources (no build folder of the
working tree leaks in). Their dependencies come from this test's own
environment, without an index: for each wheel, the distributions it needs
(Requires-Dist, with extras and markers, transitively) are linked into a folder
that the fresh venv reads through a ``.pth`` file, so pip finds them installed
and ``pip install --no-index --find-links dist`` installs only our wheel. Nothing
else of this environment is visible there: no ray, no fastapi, no editable
``sandbox``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
VERSION = re.compile(r'^version = "([^"]+)"', re.M)
SOURCES = ("pyproject.toml", "README.md", "packaging", "policies", "anonymize", "jobs", "sandbox")
# What the light client must never pull in at import.
SERVER_MODULES = ("ray", "fastapi", "torch", "sqlalchemy", "typer", "rich", "uvicorn")


def _clean_env() -> dict[str, str]:
    """This environment without its Python and pip settings (PYTHONPATH would show the
    working tree, and its egg-info, to the fresh venv; pip's config names indexes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    return env | {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1"}


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both wheels, built offline from a copy of the sources."""
    try:
        import setuptools  # noqa: F401
        import wheel  # noqa: F401
    except ImportError as err:
        pytest.skip(f"building needs setuptools and wheel in this environment ({err})")
    source = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    out = source / "dist"
    _run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--no-index", "--wheel-dir", out, "./packaging/client", ".", cwd=source,
    )  # fmt: skip
    found = {w.name.split("-")[0]: w for w in out.glob("*.whl")}
    assert set(found) == {"data_sandbox", "data_sandbox_client"}, sorted(found)
    return found


def _requires(wheel: Path, extras: set[str]) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
    return [_req for line in text.splitlines() if (_req := _parsed(line, extras))]


def _parsed(line: str, extras: set[str]) -> Requirement | None:
    if not line.startswith("Requires-Dist: "):
        return None
    req = Requirement(line.removeprefix("Requires-Dist: "))
    wanted = any(req.marker.evaluate({"extra": e}) for e in extras | {""}) if req.marker else True
    return req if wanted else None


def _closure(roots: list[Requirement], skip: set[str]) -> list[metadata.Distribution]:
    """The installed distributions ``roots`` need, transitively (ours skipped)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [(r, set(r.extras)) for r in roots]
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if name in skip:
            continue
        dist = metadata.distribution(req.name)  # PackageNotFoundError: the test is wrong
        first = name not in seen
        seen[name] = dist
        if first or extras:
            for line in dist.requires or []:
                sub = Requirement(line)
                if not sub.marker or any(sub.marker.evaluate({"extra": e}) for e in extras | {""}):
                    todo.append((sub, set(sub.extras)))
    return list(seen.values())


def _link_dependencies(wheel: Path, extras: set[str], folder: Path) -> None:
    """Link what the wheel needs (and nothing else) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ours = {"data-sandbox", "data-sandbox-client"}
    for dist in _closure(_requires(wheel, extras), ours):
        base = Path(str(dist.locate_file("")))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            link = folder / top
            if (base / top).exists() and not link.exists():
                link.symlink_to(base / top)


def _fresh_venv(path: Path, *dependency_folders: Path) -> Path:
    venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
    python = path / "bin" / "python"
    purelib = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    )
    (purelib / "deps.pth").write_text("".join(f"{d}\n" for d in dependency_folders))
    return python


def _pip(python: Path, *args: str | Path) -> str:
    # this environment's pip, acting on the fresh venv; no index, no cache, no config
    return _run(
        sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check", *args
    )


def _venue_package(folder: Path) -> Path:
    """A trading-venue package as the service writes it, signed with a test key."""
    from sandbox.airlock.export import build_package
    from sandbox.audit import signing

    secret, product = b"dist-test-secret-" + b"k" * 40, folder / "job-1.json"
    product.write_bytes(b'{"model": "released"}')
    manifest = {"job_id": 1, "organisation": "firm", "output": {"file": product.name}}
    manifest["output"]["sha256"] = hashlib.sha256(product.read_bytes()).hexdigest()
    signature, pem = signing.sign(secret, manifest), signing.public_key_pem(secret)
    package = folder / "job-1-venue.zip"
    package.write_bytes(build_package(manifest, signature, pem, product))
    return package


_PROBE = """
import importlib.util, json, sys
import sandbox.client
from sandbox.client import Client, count
from sandbox.client.verify import verify_package
from jobs.kinds import KINDS
print(json.dumps({
    "loaded": sorted(m for m in SERVER if m in sys.modules),
    "installed": sorted(m for m in SERVER if importlib.util.find_spec(m)),
    "kinds": sorted(k.name for k in KINDS),
    "client": sandbox.client.__file__,
}))
"""


@pytest.mark.slow
def test_dist_when_wheels_installed_offline_then_client_alone_is_light_and_both_coexist(
    wheels: dict[str, Path], tmp_path: Path
):
    client_wheel, server_wheel = wheels["data_sandbox_client"], wheels["data_sandbox"]
    # one version, and the service pins the client at it
    version = VERSION.search((ROOT / "pyproject.toml").read_text())
    assert version is not None and f"-{version.group(1)}-" in client_wheel.name
    assert any(
        str(r) == f"data-sandbox-client[verify]=={version.group(1)}"
        for r in _requires(server_wheel, set())
    )
    # no file belongs to both wheels
    with zipfile.ZipFile(client_wheel) as c, zipfile.ZipFile(server_wheel) as s:
        client_files, server_files = set(c.namelist()), set(s.namelist())
    assert not client_files & server_files
    assert "sandbox/__init__.py" in server_files and "sandbox/client/verify.py" in client_files
    assert {"sandbox/client/py.typed", "policies/py.typed", "jobs/py.typed"} <= client_files
    assert {"sandbox/store/migrations/env.py", "sandbox/web/console/templates/base.html"} <= (
        server_files
    )
    # the client alone, offline: its own dependencies only
    client_deps, server_deps = tmp_path / "client-deps", tmp_path / "server-deps"
    _link_dependencies(client_wheel, {"verify"}, client_deps)
    python = _fresh_venv(tmp_path / "venv", client_deps)
    dist = client_wheel.parent
    _pip(python, "install", "--no-index", "--find-links", dist, "data-sandbox-client[verify]")
    bin_dir = python.parent
    assert not (bin_dir / "sandbox").exists()  # no command that needs the server
    help_text = _run(bin_dir / "sandbox-client", "--help")
    assert "verify" in help_text
    probe = f"SERVER = {SERVER_MODULES!r}\n" + _PROBE
    found = json.loads(_run(python, "-c", probe, cwd=tmp_path))
    assert found["loaded"] == []
    assert found["kinds"] == ["aggregate", "custom", "extract", "train"]
    assert found["client"].startswith(str(tmp_path / "venv"))
    assert found["installed"] == []  # absent, not merely left unloaded
    package = _venue_package(tmp_path)
    assert "校验通过 verified" in _run(bin_dir / "sandbox-client", "verify", package)
    # the service beside it: `sandbox` works, and the client still imports
    _link_dependencies(server_wheel, set(), server_deps)
    (Path(found["client"]).parents[2] / "deps.pth").write_text(f"{client_deps}\n{server_deps}\n")
    _pip(python, "install", "--no-index", "--find-links", dist, "data-sandbox")
    assert "export" in _run(bin_dir / "sandbox", "--help")  # imports sandbox.client too
    # removing the service leaves a working client (no file of the client was its)
    _pip(python, "uninstall", "--yes", "data-sandbox")
    assert not (bin_dir / "sandbox").exists()
    _run(python, "-c", "import sandbox.client.verify", cwd=tmp_path)
