"""Dry runs of any job spec on dummy rows, on the analyst's own machine: develop, then submit.

``client.dry_run(spec)`` runs the spec it would submit, locally, on rows made up
from the catalog's metadata (:mod:`sandbox.client.dummy`); nothing is sent to
the service but the catalog lookups, no budget is spent, and the numbers mean
nothing: they only show that the code and the spec work and what comes out.

- ``aggregate``: the exact answer, shaped like the release (:mod:`sandbox.client.local`).
- ``extract`` and ``train``: the kind's own engine (``jobs.kinds``), given a task
  built as the service builds it (grade, tags, privacy unit, key domains, the
  kind's options from default grant terms) on a Parquet file of the dummy rows.
  An extract's named steward hierarchies are left out (their lines stay with
  the bureau): the dry run chooses those columns' hierarchies itself.
  They need the engines' libraries: numpy for ``extract``; diffprivlib and
  scikit-learn for ``train`` (torch and opacus for the MLP): ``pip install
  data-sandbox``.
- ``custom``: the entry point runs as a subprocess with the analyst's own
  Python, no jail (it is their machine and their code), on the jail's layout:
  the code at ``/code``, each dataset at ``/data/<name>.parquet``, outputs in
  ``/output``, working folder and ``HOME`` ``/tmp``, the jail's environment
  (``LANG=C.UTF-8``, ``MPLBACKEND=Agg``, ...). The absolute paths are made with
  bubblewrap (``bwrap``, Linux) when it is installed; without it the folders are
  local ones named by ``SANDBOX_DATA_DIR``, ``SANDBOX_OUTPUT_DIR`` and
  ``SANDBOX_CODE_DIR`` (code that reads ``os.environ.get("SANDBOX_DATA_DIR",
  "/data")`` runs unchanged in both). Files in ``/output`` the service would
  refuse (suffix, name, a folder) are listed in ``refused``.

Dummy categories come from declared domains: the catalog's public key domains,
and for ``train`` the spec's own declared categories and classes.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from jobs.facts import Column as FactColumn
from jobs.facts import DatasetFacts, GrantFacts
from jobs.kinds import KINDS, AnySpec, OutputShape, parse_job_spec
from jobs.kinds.aggregate.spec import AggregateSpec
from jobs.kinds.custom.spec import CustomSpec
from jobs.kinds.extract.spec import ExtractSpec, NamedHierarchy
from jobs.kinds.train.spec import TrainSpec
from jobs.task import Task
from policies import errors as E
from policies.airlock import min_cell_for
from policies.catalog import ColumnTag, Grade
from sandbox.client import html as H
from sandbox.client import local as _local
from sandbox.client.dummy import dummy_frame
from sandbox.client.models import Model
from sandbox.client.output import Table
from sandbox.client.schema import Column

#: Suffixes the service accepts in ``/output`` (``jobs.kinds.custom.outputs.OUTPUT_FORMATS``).
OUTPUT_SUFFIXES = (".csv", ".parquet", ".json", ".png", ".txt")
#: An output name the service accepts: a plain file name, no folder, no hidden file.
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
#: Where ``bwrap`` is looked for (the service's jail uses the same program).
BWRAP = "/usr/bin/bwrap"
#: The jail's working folder and HOME (a private mount there, a private folder here).
JAIL_TMP = "/tmp"  # noqa: S108 - bound to a private folder of the run
_JAIL_ENV = {
    "HOME": JAIL_TMP,
    "TMPDIR": JAIL_TMP,
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": JAIL_TMP,
}


@dataclass(frozen=True)
class LocalRun:
    """What a dry run produced (on dummy rows: the numbers mean nothing).

    Attributes:
        kind: The job kind.
        table: The table an ``aggregate`` or ``extract`` would release.
        model: The model a ``train`` job would release (``.predict(frame)``).
        files: A ``custom`` job's output files by the code's own names (accepted ones).
        report: The kind's report (``extract``, ``train``), or the run's (``custom``:
            exit code, stdout, stderr, refused files, the layout used).
        inputs: The dummy frames the run read, by dataset.
    """

    kind: str
    table: Table | None = None
    model: Model | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)

    def _repr_html_(self) -> str:
        items: dict[str, Any] = {"kind": self.kind, "on": "dummy rows (numbers mean nothing)"}
        if self.table is not None:
            items["table"] = f"{self.table.height} rows × {self.table.width} columns"
        if self.model is not None:
            items["model"] = self.model.family
        if "layout" in self.report:  # an entry point run (custom)
            items |= {
                "exit code": self.report.get("exit_code"),
                "files": sorted(self.files),
                "refused": [f"{n}: {why}" for n, why in self.report.get("refused", {}).items()],
                "layout": self.report.get("layout"),
            }
        return H.fields("dry run", items)


def _facts(meta: Mapping[str, Any], parts: str, rows: int) -> DatasetFacts:
    columns = tuple(
        FactColumn(str(c["name"]), str(c["dtype"]), ColumnTag(c["tag"])) for c in meta["columns"]
    )
    return DatasetFacts(
        name=str(meta["name"]),
        parts=parts,
        grade=Grade(meta.get("grade", Grade.GENERAL)),
        row_count=rows,
        public_row_count=rows,
        privacy_unit=meta.get("privacy_unit") or None,
        public_keys={k: tuple(v) for k, v in (meta.get("public_keys") or {}).items()},
        columns=columns,
    )


def spec_domains(spec: AnySpec) -> dict[str, list[Any]]:
    """Categories a spec declares per column (a train job's features and label classes).

    >>> from jobs.kinds import parse_job_spec
    >>> spec = parse_job_spec({"kind": "train", "dataset": "d", "epsilon": 1,
    ...     "model": {"type": "gaussian_nb"},
    ...     "features": [{"column": "edu", "categories": ["本科", "硕士"]}],
    ...     "label": {"column": "sex", "classes": ["男", "女"]}})
    >>> spec_domains(spec)
    {'edu': ['本科', '硕士'], 'sex': ['男', '女']}
    """
    if not isinstance(spec, TrainSpec):
        return {}
    domains = {f.column: list(f.categories) for f in spec.features if f.categories}
    if spec.label is not None and spec.label.classes:
        domains[spec.label.column] = list(spec.label.classes)
    return domains


def dummy_inputs(
    spec: AnySpec, metadata: Mapping[str, Mapping[str, Any]], n: int, seed: int | None
) -> dict[str, pl.DataFrame]:
    """One dummy frame per dataset of ``spec``, its categories from declared domains."""
    frames = {}
    for name in spec.datasets:
        meta = metadata[name]
        columns = [
            Column(str(c["name"]), str(c["dtype"]), ColumnTag(c["tag"])) for c in meta["columns"]
        ]
        domains = {**spec_domains(spec), **(meta.get("public_keys") or {})}
        frames[name] = dummy_frame(columns, n, public_keys=domains, seed=seed)
    return frames


def run(
    spec_data: Mapping[str, Any],
    metadata: Mapping[str, Mapping[str, Any]],
    frames: Mapping[str, pl.DataFrame],
    *,
    timeout: float = 600.0,
) -> LocalRun:
    """Run ``spec_data`` locally on ``frames`` (dataset name → rows with its schema).

    Args:
        spec_data: The job spec, as ``client.submit`` takes it.
        metadata: The catalog's JSON per dataset of the spec.
        frames: The rows to run on, per dataset (dummy rows: never real data).
        timeout: Seconds a ``custom`` entry point may run.

    Raises:
        InvalidJobSpec: The spec is malformed, or does not fit the datasets.
        PolicyViolation: The kind's rules refuse it (e.g. an extract of core data).
        JobFailed: The kind's engine could not produce an output (its message says why).
        ImportError: The kind's engine needs libraries this install lacks.
    """
    spec = parse_job_spec(dict(spec_data))
    missing = [name for name in spec.datasets if name not in frames or name not in metadata]
    if missing:
        raise E.InvalidRequest(f"no rows or catalog entry given for {', '.join(missing)}")
    inputs = {name: frames[name] for name in spec.datasets}
    if isinstance(spec, AggregateSpec):
        meta = metadata[spec.dataset]
        table = _local.evaluate(
            inputs[spec.dataset],
            filters=spec.filters,
            group_by=spec.group_by,
            aggregates=spec.aggregates,
            privacy_unit=meta.get("privacy_unit") or None,
            public_keys=meta.get("public_keys") or {},
        )
        return LocalRun(spec.kind, table=Table.of(table), inputs=inputs)
    with tempfile.TemporaryDirectory(prefix="sandbox-dry-run-") as folder:
        data = Path(folder) / "data"
        data.mkdir()
        for name, frame in inputs.items():
            frame.write_parquet(data / f"{name}.parquet")
        if isinstance(spec, CustomSpec):
            return _custom(spec, Path(folder), inputs, timeout)
        return _engine(spec, metadata, Path(folder), inputs)


def _engine(
    spec: AnySpec,
    metadata: Mapping[str, Mapping[str, Any]],
    folder: Path,
    inputs: dict[str, pl.DataFrame],
) -> LocalRun:
    """The kind's own engine on a task built as the service builds it (default grant terms)."""
    kind = KINDS[spec.kind]
    if isinstance(spec, ExtractSpec):
        spec = _without_named(spec)
    facts = tuple(
        _facts(metadata[name], str(folder / "data" / f"{name}.parquet"), inputs[name].height)
        for name in spec.datasets
    )
    grant = GrantFacts(id=0)
    options = kind.options(grant, facts, secrets.token_bytes(32))
    kind.validate(spec, facts, options)
    task = Task(
        job_id=0,
        spec=spec.model_dump(mode="json"),
        inputs={d.name: d.parts for d in facts},
        row_counts={d.name: d.row_count for d in facts},
        public_rows={d.name: d.public_row_count for d in facts},
        output_path=str(folder / "out" / "job-0"),
        min_cell=min_cell_for(d.grade for d in facts),
        seed=secrets.randbits(63),
        privacy_units={d.name: d.privacy_unit for d in facts},
        public_keys={d.name: {k: list(v) for k, v in d.public_keys.items()} for d in facts},
        non_null_columns={d.name: sorted(d.non_null_columns) for d in facts},
        columns={
            d.name: {c.name: {"dtype": c.dtype, "tag": c.tag.value} for c in d.columns}
            for d in facts
        },
        grades={d.name: d.grade.value for d in facts},
        options=options,
    )
    outcome = kind.run(task)
    path = Path(outcome.output_path)
    report = dict(outcome.report or {})
    if kind.shape is OutputShape.TABLE:
        table = Table.of(pl.read_parquet(path))
        return LocalRun(spec.kind, table=table, report=report, inputs=inputs)
    if kind.shape is OutputShape.MODEL:
        return LocalRun(spec.kind, model=Model.from_file(path), report=report, inputs=inputs)
    return LocalRun(spec.kind, files={path.name: path.read_bytes()}, report=report, inputs=inputs)


def _without_named(spec: ExtractSpec) -> ExtractSpec:
    """The spec without the steward's named hierarchies: their lines stay with the bureau
    (and dummy rows would not fit them), so a dry run chooses for those columns itself."""
    kept = {c: h for c, h in spec.hierarchies.items() if not isinstance(h, NamedHierarchy)}
    return spec.model_copy(update={"hierarchies": kept})


def _code(spec: CustomSpec, folder: Path) -> None:
    """The spec's code under ``folder`` as the jail has it under ``/code``."""
    from jobs.kinds.custom.engine import code_files  # checks an archive as the service does

    for name, content in code_files(spec).items():
        target = folder / name.removeprefix("/code/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _bwrap_argv(folder: Path, entrypoint: str) -> list[str]:
    """bubblewrap arguments that show the host as it is plus the jail's four folders."""
    argv = [BWRAP, "--die-with-parent"]
    overlaid = {"code", "data", "output", "tmp", "proc", "dev"}
    for entry in sorted(os.listdir("/")):
        path = f"/{entry}"
        if entry in overlaid:
            continue
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--dev-bind", path, path]
    argv += ["--proc", "/proc", "--dev-bind", "/dev", "/dev"]
    argv += ["--bind", str(folder / "tmp"), JAIL_TMP, "--ro-bind", str(folder / "data"), "/data"]
    argv += [
        "--bind",
        str(folder / "output"),
        "/output",
        "--ro-bind",
        str(folder / "code"),
        "/code",
    ]
    # the jail's /tmp hides the host's: an interpreter or packages kept there (a checkout in
    # /tmp) are shown again, read-only, where they were
    kept = {sys.prefix, sys.exec_prefix, *(p for p in sys.path if p)}
    for path in sorted(p for p in kept if p.startswith(f"{JAIL_TMP}/") and os.path.isdir(p)):
        argv += ["--ro-bind", path, path]
    return [*argv, "--chdir", JAIL_TMP, sys.executable, f"/code/{entrypoint}"]


def _custom(
    spec: CustomSpec, folder: Path, inputs: dict[str, pl.DataFrame], timeout: float
) -> LocalRun:
    for part in ("code", "output", "tmp"):
        (folder / part).mkdir()
    _code(spec, folder / "code")
    env = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "SYSTEMROOT") if k in os.environ}
    env |= {
        "SANDBOX_DATA_DIR": "/data",
        "SANDBOX_OUTPUT_DIR": "/output",
        "SANDBOX_CODE_DIR": "/code",
    }
    if os.access(BWRAP, os.X_OK):
        argv, layout = _bwrap_argv(folder, spec.entrypoint), "jail paths (bubblewrap)"
        cwd = None
        env |= _JAIL_ENV
    else:
        argv = [sys.executable, str(folder / "code" / spec.entrypoint)]
        layout = "local folders in SANDBOX_DATA_DIR, SANDBOX_OUTPUT_DIR (no bubblewrap)"
        cwd = str(folder / "tmp")
        env |= _JAIL_ENV | {
            "HOME": cwd,
            "TMPDIR": cwd,
            "MPLCONFIGDIR": cwd,
            "SANDBOX_DATA_DIR": str(folder / "data"),
            "SANDBOX_OUTPUT_DIR": str(folder / "output"),
            "SANDBOX_CODE_DIR": str(folder / "code"),
        }
    try:
        done = subprocess.run(  # noqa: S603 - the analyst's own code on their own machine
            argv, cwd=cwd, env=env, capture_output=True, timeout=timeout, check=False
        )
        exit_code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        exit_code, out, err = None, expired.stdout or b"", expired.stderr or b""
    files, refused = _outputs(folder / "output")
    report = {
        "exit_code": exit_code,
        "timed_out": exit_code is None,
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
        "refused": refused,
        "layout": layout,
    }
    return LocalRun(spec.kind, files=files, report=report, inputs=inputs)


def _outputs(folder: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """The files the service would accept from ``/output``, and why it would refuse the others."""
    files: dict[str, bytes] = {}
    refused: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        name = path.name
        if path.is_symlink() or not path.is_file():
            refused[name] = "not a plain file: only files directly in /output are released"
        elif not _OUTPUT_NAME.match(name):
            refused[name] = "name: letters, digits, '_', '.', '-' only, not starting with '.'"
        elif path.suffix.lower() not in OUTPUT_SUFFIXES:
            refused[name] = f"suffix: one of {', '.join(OUTPUT_SUFFIXES)}"
        else:
            files[name] = path.read_bytes()
    return files, refused
