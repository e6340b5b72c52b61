"""The example notebook runs, cell by cell, in a real kernel against a live service.

The operator's notebook blocks in ``job.wait_released()`` while the data
bureau reviews: this test plays the steward from another thread and
approves once the job awaits review, as the review console would.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from sandbox.access.auth import bootstrap
from sandbox.cli.demo import free_port, serving
from sandbox.cli.demo_data import JIANGSU_CITIES
from sandbox.client import Client
from sandbox.service import Sandbox
from sandbox.settings import Settings

pytestmark = [pytest.mark.ray, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "analysis.ipynb"
# Appended in memory, never saved: what the notebook ended with, as JSON.
PROBE = """import json
print(json.dumps({
    "status": job.status,
    "columns": result.columns,
    "cities": result["city"].to_list(),
    "dummy_rows": dummy.height,
    "run_on_columns": query.run_on(dummy).columns,
    "estimate_epsilon": estimate.epsilon,
    "spent": client.budget().to_polars()["epsilon_spent"].to_list(),
    "commitment": client.budget().to_polars()["commitment"].to_list(),
    "dataset": ds.name,
}))"""


#: Not the demo's name: the notebook takes it from SANDBOX_DATASET.
DATASET = "residents_for_the_notebook"


def _world(url: str, admin_token: str) -> tuple[str, str]:
    """Organisations, a steward and an operator; the notebook ingests the data and grants it
    (``SANDBOX_DEMO_INGEST=1``), and the operator accepts the commitment (art. 34) there."""
    with Client(url, admin_token) as admin:
        bureau = admin.create_org("bureau", "bureau")
        firm = admin.create_org("firm", "operator")
        steward_token = admin.create_user("steward", "steward", bureau["id"])["token"]
        operator_token = admin.create_user("analyst", "operator", firm["id"])["token"]
    return steward_token, operator_token


def _approve_when_ready(
    url: str,
    token: str,
    waited: threading.Event,
    done: threading.Event,
    errors: list[BaseException],
) -> None:
    """The steward: once the notebook's ``job.wait()`` returned, approve the job it waits on."""
    try:
        deadline = time.monotonic() + 240
        while not waited.wait(0.2):
            if done.is_set():
                return
        with Client(url, token) as steward:
            while not done.is_set():
                waiting = steward.jobs("awaiting_review")
                if waiting:
                    steward.review(waiting[0].id, "approve", "aggregates only; checks pass")
                    return
                assert time.monotonic() < deadline, "no job reached review"
                time.sleep(0.2)
    except BaseException as err:
        errors.append(err)


def test_notebook_when_executed_against_live_service_then_released_table_arrives(
    tmp_path: Path, ray_runner: object, monkeypatch: pytest.MonkeyPatch
):
    # The kernel is this interpreter: jupyter_client maps the spec's "python" to sys.executable.
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in ("python", "python3", sys.executable)
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")  # stored clean
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))

    sandbox = Sandbox(Settings(data_dir=tmp_path / "data"), runner=ray_runner)  # type: ignore[arg-type]
    sandbox.start()
    try:
        with serving(sandbox, free_port()) as url:
            steward, operator = _world(url, bootstrap(sandbox.db))
            monkeypatch.setenv("SANDBOX_URL", url)  # the kernel inherits the environment
            monkeypatch.setenv("SANDBOX_TOKEN", operator)
            monkeypatch.setenv("SANDBOX_DATASET", DATASET)
            monkeypatch.setenv("SANDBOX_DEMO_INGEST", "1")
            monkeypatch.setenv("SANDBOX_STEWARD_TOKEN", steward)
            waited, done, errors = threading.Event(), threading.Event(), []
            reviewer = threading.Thread(
                target=_approve_when_ready,
                args=(url, steward, waited, done, errors),
                daemon=True,
            )

            def on_cell_executed(cell: nbformat.NotebookNode, **_: object) -> None:
                if "job.wait()" in cell.source:
                    waited.set()  # the notebook now blocks in job.wait_released()

            reviewer.start()
            try:
                NotebookClient(
                    nb,
                    kernel_name="python3",
                    timeout=280,
                    resources={"metadata": {"path": str(tmp_path)}},
                    on_cell_executed=on_cell_executed,
                ).execute()
            finally:
                done.set()
                reviewer.join(timeout=30)
            assert not errors, errors
    finally:
        sandbox.close()

    outputs = [c.outputs for c in nb.cells if c.cell_type == "code"]
    probe = json.loads(next(o["text"] for o in outputs[-1] if o.get("name") == "stdout"))
    assert probe["status"] == "released"
    columns = (
        ["city"]
        + [
            f"{n}{end}"
            for n in ("residents", "mean_income", "median_income")
            for end in ("", "_ci_low", "_ci_high")
        ]
        + ["suppressed"]
    )  # which cells fell under the small-cell threshold, and why
    assert probe["columns"] == probe["run_on_columns"] == columns
    assert probe["cities"] == list(JIANGSU_CITIES)
    assert probe["dummy_rows"] == 2000 and probe["estimate_epsilon"] == 1.0
    assert probe["spent"] == [pytest.approx(1.0)]
    assert probe["dataset"] == DATASET and probe["commitment"][0].startswith("accepted")
    # Jupyter showed rich HTML for the client's objects, and the progress bar.
    html = [o for cell in outputs for o in cell if "text/html" in o.get("data", {})]
    assert any(DATASET in o["data"]["text/html"] for o in html)
    assert any("privacy budget by grant" in o["data"]["text/html"] for o in html)
    code = [c for c in nb.cells if c.cell_type == "code"]
    [wait_cell] = [c for c in code if "job.wait()" in c.source]
    bar = "".join(o["text"] for o in wait_cell.outputs if o.get("name") == "stderr")
    assert "awaiting_review" in bar
