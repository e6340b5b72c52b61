"""Write ``examples/analysis.ipynb``, the analyst's walk-through, with nbformat.

Run ``python examples/make_analysis_notebook.py`` after changing a cell here;
the notebook is stored without outputs and ``tests/system/test_notebook.py``
executes it against a live service.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    (
        "md",
        "# Income by city, with differential privacy\n\n"
        "An operator's notebook for the Data Sandbox: browse the catalog, develop the query "
        "on dummy rows (free, no data touched), check its cost, submit it, and download the "
        "released table once the data bureau has approved it.\n\n"
        "Set `SANDBOX_URL` and `SANDBOX_TOKEN` (your operator token) before starting Jupyter. "
        "It runs against any service: `SANDBOX_DATASET` names the dataset (default "
        "`jiangsu_residents`, the demo's). With `SANDBOX_DEMO_INGEST=1` and a steward's "
        "token in `SANDBOX_STEWARD_TOKEN`, the demo data is ingested under that name and "
        "granted to your firm first, if the catalog lacks it.",
    ),
    (
        "code",
        "import os\n\n"
        "from sandbox.client import Client, count, mean, quantile\n\n"
        "client = Client()  # reads SANDBOX_URL and SANDBOX_TOKEN\n"
        'DATASET = os.environ.get("SANDBOX_DATASET", "jiangsu_residents")\n'
        "client",
    ),
    (
        "code",
        "# Only when asked: a steward ingests the synthetic demo residents and grants your firm.\n"
        'asked = os.environ.get("SANDBOX_DEMO_INGEST") == "1"\n'
        "if asked and DATASET not in client.datasets.names:\n"
        "    import datetime as dt\n"
        "    import tempfile\n"
        "    from pathlib import Path\n\n"
        "    from sandbox.cli.demo_data import DEMO_TAGS, JIANGSU_CITIES, write_demo_csv\n\n"
        '    with Client(token=os.environ["SANDBOX_STEWARD_TOKEN"]) as steward:\n'
        "        with tempfile.TemporaryDirectory() as folder:\n"
        '            csv = write_demo_csv(Path(folder) / "residents.csv", n=2000)\n'
        "            steward.ingest(\n"
        '                csv, name=DATASET, source="synthetic demo residents (seeded)",\n'
        '                open_attribute="conditional", grade="general", tags=DEMO_TAGS,\n'
        '                privacy_unit="resident_id", public_keys={"city": list(JIANGSU_CITIES)},\n'
        "            )\n"
        "        steward.create_grant(\n"
        '            org_id=client.me()["org_id"], datasets=[DATASET], kinds=["aggregate"],\n'
        '            purpose="Regional income statistics for a planning report", epsilon=3.0,\n'
        "            commitment_required=True,\n"
        "            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),\n"
        "        )",
    ),
    ("md", "## The catalog\nMetadata only: names, schemas, tags, row counts. Never a row."),
    ("code", "client.datasets"),
    ("code", "ds = client.dataset(DATASET)\nds"),
    (
        "md",
        "## The data-use commitment (art. 34)\n"
        "A conditionally open dataset is used only once your firm has accepted the "
        "commitment its grant requires. Read it; accepting is recorded and audited.",
    ),
    (
        "code",
        "for grant in client.grants():\n"
        '    if DATASET in grant["datasets"] and grant["commitment_required"]:\n'
        '        print(grant["commitment_text"])\n'
        '        if not grant["commitment_accepted"]:\n'
        '            client.accept_commitment(grant["id"])',
    ),
    ("code", "ds.schema"),
    (
        "md",
        "## Develop on dummy rows\n"
        "`ds.dummy(n)` makes rows up from the catalog's metadata (types, tags, declared "
        "city list). Identifiers look real but are invented; no budget is spent.",
    ),
    ("code", "dummy = ds.dummy(2000, seed=1)\ndummy.head()"),
    (
        "code",
        'query = (\n    ds.query()\n    .filter("age", ">=", 18)\n    .group_by("city")\n'
        "    .agg(\n"
        '        count(name="residents"),\n'
        '        mean("income", lower=0, upper=500_000, name="mean_income"),\n'
        '        quantile("income", q=0.5, lower=0, upper=500_000, name="median_income"),\n'
        "    )\n)\n"
        "query.run_on(dummy)  # exact answer on the dummy rows: the shape of the real result",
    ),
    (
        "md",
        "## Cost and accuracy\n"
        "Setting ε makes the query submittable. The estimate spends nothing and shows the "
        "expected 95 % interval half-width of each answer.",
    ),
    ("code", "private = query.epsilon(1.0)\nestimate = private.estimate()\nestimate"),
    (
        "md",
        "## Submit\n"
        "ε is reserved now. The job runs beside the data; its output waits in quarantine "
        "for the data bureau's review.",
    ),
    (
        "code",
        'job = private.submit(purpose="Regional income statistics for a planning report")\n'
        "job.wait()  # queued → running → awaiting_review",
    ),
    ("code", "job.wait_released(timeout=600)  # blocks until the data bureau has decided"),
    (
        "md",
        "## The released table\n"
        "Each answer comes with `_ci_low` / `_ci_high`, its 95 % interval. Cells with too "
        "few residents are suppressed (null).",
    ),
    ("code", "result = job.result()\nresult"),
    (
        "md",
        "`result.to_pandas()` gives a pandas frame with the `pandas` extra "
        "(`pip install 'data-sandbox-client[pandas]'`).",
    ),
    ("code", "client.budget()"),
]


def build() -> nbformat.NotebookNode:
    """The notebook, without outputs."""
    nb = new_notebook(
        cells=[
            new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives the same file
    nbformat.validate(nb)
    return nb


if __name__ == "__main__":
    target = Path(__file__).with_name("analysis.ipynb")
    nbformat.write(build(), target)
    print(f"wrote {target}")
