"""Dry runs of every kind on dummy rows, on the analyst's machine (a fake service: catalog only)."""

from __future__ import annotations

import base64
import io
import json
import os
import textwrap
import zipfile

import polars as pl
import pytest

from jobs.kinds import parse_job_spec
from policies.errors import InvalidJobSpec, JobFailed
from sandbox.client import dryrun
from tests.unit.sandbox.client._fake import CITIES, DATASET, client

EXTRACT = {
    "kind": "extract",
    "dataset": "residents",
    "columns": ["city", "age", "income", "household_size", "phone"],
    "k": 5,
    "l": 2,
    "suppression_limit": 0.5,
}
TRAIN = {
    "kind": "train",
    "dataset": "residents",
    "epsilon": 1.0,
    "model": {"type": "gaussian_nb"},
    "features": [
        {"column": "age", "lower": 18, "upper": 90},
        {"column": "note", "categories": ["甲类", "乙类", "丙类"]},
    ],
    "label": {"column": "city", "classes": CITIES},
}
#: Code written for the jail: absolute paths, the environment it sets.
JAIL_CODE = textwrap.dedent(
    """
    import json, os
    import polars as pl
    frame = pl.read_parquet("/data/residents.parquet")
    counts = frame.group_by("city").len().sort("city")
    counts.write_csv("/output/counts.csv")
    with open("/output/env.json", "w") as f:
        json.dump({"cwd": os.getcwd(), "home": os.environ.get("HOME"),
                   "lang": os.environ.get("LANG"), "files": sorted(os.listdir("/data")),
                   "code": sorted(os.listdir("/code"))}, f)
    open("/output/notes.md", "w").write("refused: not a released suffix")
    print("rows", frame.height)
    """
)


def test_dry_run_when_aggregate_then_exact_table_over_the_declared_domain():
    spec = {
        "kind": "aggregate",
        "dataset": "residents",
        "group_by": ["city"],
        "aggregates": [{"op": "count", "name": "n"}],
        "epsilon": 1.0,
    }
    run = client().dry_run(spec, n=200, seed=1)
    assert run.kind == "aggregate" and run.table is not None
    assert run.table["city"].to_list() == CITIES and run.table["n"].sum() == 200


def test_dry_run_when_extract_then_the_kinds_engine_releases_k_anonymous_rows():
    run = client().dry_run(EXTRACT, n=400, seed=2)
    assert run.table is not None and run.report["k_achieved"] >= 5
    assert "phone" not in run.table.columns  # a direct identifier is dropped, as on the service
    assert run.report["dropped_direct_identifiers"] == ["phone"]
    # the dummy rows' cities come from the declared domain, never placeholders
    assert set(run.inputs["residents"]["city"].unique()) <= set(CITIES)


def test_dry_run_when_extract_names_a_steward_hierarchy_then_chosen_locally_instead():
    named = {"city": {"kind": "named", "name": "region"}}  # its lines stay with the bureau
    run = client().dry_run({**EXTRACT, "hierarchies": named}, n=400, seed=2)
    assert run.report["generalization"]["city"]["source"] == "automatic"


def test_dry_run_when_extract_spec_names_an_unknown_column_then_invalid_spec():
    with pytest.raises(InvalidJobSpec, match="no column"):
        client().dry_run({**EXTRACT, "columns": ["city", "nope"]}, n=50)


def test_dry_run_when_train_then_a_model_that_predicts_declared_classes():
    run = client().dry_run(TRAIN, n=300, seed=3)
    assert run.model is not None and run.model.family == "gaussian_nb"
    inputs = run.inputs["residents"]
    # categories of the spec and the catalog's key domain, not "note_A" placeholders
    assert set(inputs["note"].unique()) <= {"甲类", "乙类", "丙类"}
    predicted = run.model.predict(inputs.head(20))
    assert set(predicted.to_list()) <= set(CITIES)
    assert run.report.get("privacy", {}).get("epsilon", 1.0) <= 1.0 + 1e-9


def test_dry_run_when_custom_then_the_entrypoint_sees_the_jails_layout(tmp_path):
    spec = {"kind": "custom", "datasets": ["residents"], "source": JAIL_CODE}
    run = client().dry_run(spec, n=120, seed=4)
    assert run.report["exit_code"] == 0, run.report["stderr"]
    assert "rows 120" in run.report["stdout"]
    counts = pl.read_csv(io.BytesIO(run.files["counts.csv"]))
    assert counts["len"].sum() == 120 and set(counts["city"]) <= set(CITIES)
    assert run.report["refused"] == {"notes.md": "suffix: one of .csv, .parquet, .json, .png, .txt"}
    seen = json.loads(run.files["env.json"])
    assert seen["files"] == ["residents.parquet"] and seen["code"] == ["main.py"]
    if os.access(dryrun.BWRAP, os.X_OK):
        assert seen == {**seen, "cwd": "/tmp", "home": "/tmp", "lang": "C.UTF-8"}


def test_dry_run_when_custom_archive_then_its_files_are_at_code():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "job/run.py", "from helper import N\nopen('/output/n.txt','w').write(str(N))"
        )
        archive.writestr("job/helper.py", "N = 41 + 1\n")
    spec = {
        "kind": "custom",
        "datasets": ["residents"],
        "archive": base64.b64encode(buffer.getvalue()).decode(),
        "entrypoint": "job/run.py",
    }
    if not os.access(dryrun.BWRAP, os.X_OK):
        pytest.skip("the absolute /output path needs bubblewrap")
    run = client().dry_run(spec, n=10)
    assert run.report["exit_code"] == 0, run.report["stderr"]
    assert run.files == {"n.txt": b"42"}


def test_dry_run_when_custom_code_fails_then_exit_code_and_stderr_kept():
    spec = {"kind": "custom", "datasets": ["residents"], "source": "raise SystemExit('broken: 3')"}
    run = client().dry_run(spec, n=5)
    assert run.report["exit_code"] == 1 and "broken: 3" in run.report["stderr"]
    assert run.files == {}


def test_dry_run_when_custom_runs_too_long_then_timed_out():
    spec = {"kind": "custom", "datasets": ["residents"], "source": "import time; time.sleep(30)"}
    run = client().dry_run(spec, n=5, timeout=1.0)
    assert run.report["timed_out"] and run.report["exit_code"] is None


def test_dry_run_when_own_frames_given_then_they_are_used():
    frame = (
        client().dataset("residents").dummy(30, seed=9).with_columns(pl.lit("南京市").alias("city"))
    )
    spec = {
        "kind": "aggregate",
        "dataset": "residents",
        "group_by": ["city"],
        "aggregates": [{"op": "count", "name": "n"}],
        "epsilon": 1.0,
    }
    run = client().dry_run(spec, frames={"residents": frame})
    assert dict(zip(run.table["city"], run.table["n"], strict=True)) == {
        "南京市": 30,
        "苏州市": 0,
        "无锡市": 0,
    }


def test_dummy_inputs_when_catalog_declares_a_domain_then_no_placeholders():
    frames = dryrun.dummy_inputs(parse_job_spec(TRAIN), {"residents": DATASET}, 500, seed=5)
    assert set(frames["residents"]["city"].unique()) == set(CITIES)
    assert set(frames["residents"]["note"].unique()) == {"甲类", "乙类", "丙类"}


def test_dry_run_when_extract_cannot_reach_k_then_the_engines_failure():
    with pytest.raises(JobFailed):
        client().dry_run({**EXTRACT, "k": 5000, "suppression_limit": 0.0}, n=50)


def test_dry_run_when_no_bubblewrap_then_folders_named_by_the_environment(monkeypatch):
    monkeypatch.setattr(dryrun, "BWRAP", "/nonexistent/bwrap")
    code = textwrap.dedent(
        """
        import os
        import polars as pl
        data = os.environ.get("SANDBOX_DATA_DIR", "/data")
        out = os.environ.get("SANDBOX_OUTPUT_DIR", "/output")
        pl.read_parquet(f"{data}/residents.parquet").head(3).write_parquet(f"{out}/head.parquet")
        """
    )
    run = client().dry_run({"kind": "custom", "datasets": ["residents"], "source": code}, n=10)
    assert run.report["exit_code"] == 0, run.report["stderr"]
    assert "no bubblewrap" in run.report["layout"]
    assert pl.read_parquet(io.BytesIO(run.files["head.parquet"])).height == 3
