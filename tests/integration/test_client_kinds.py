"""Extract, train and custom jobs end to end through the analysts' client.

The client talks to the real app (``world.http``, a Starlette TestClient,
passed as the httpx transport) with the session's Ray behind it: the
operator submits and reads, the steward reviews, both through
:class:`sandbox.client.Client`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from jobs.kinds.train import engine
from policies.errors import Conflict, InvalidRequest
from sandbox.client import Client, Job
from tests.factories import World
from tests.integration.test_kinds_api import EXTRACT, _all_kinds_grant, _train_spec

pytestmark = pytest.mark.ray

#: Counts of a dozen residents by city: every cell is under the minimum cell size (10).
SMALL_CELLS_SOURCE = """
import polars as pl
frame = pl.read_parquet("/data/residents.parquet").head(12)
frame.group_by("city").agg(pl.len().alias("count")).sort("city").write_csv("/output/by_city.csv")
"""


@contextmanager
def client(world: World, who: str) -> Iterator[Client]:
    """A client as ``who`` whose HTTP goes to the app under test (through its TestClient)."""

    def relay(request: httpx.Request) -> httpx.Response:
        answer = world.http.request(
            request.method, str(request.url), headers=request.headers, content=request.read()
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    token = getattr(world, who)
    with Client("http://testserver", token, transport=httpx.MockTransport(relay)) as c:
        yield c


def _run(world: World, spec: dict[str, Any], override_reason: str = "") -> Job:
    """Submit as the operator, wait for the checks, approve as the steward; the released job."""
    grant_id = _all_kinds_grant(world)
    with client(world, "operator") as operator:
        job = operator.submit(grant_id, spec, purpose="client kinds test")
        assert job.wait(timeout=180, poll=0.1, progress=False).status == "awaiting_review"
    with client(world, "steward") as steward:
        reviewed = steward.review(job.id, "approve", "checked every file", override_reason)
    assert reviewed.status == "released"
    return job


def test_extract_when_released_then_result_is_polars_rows_and_download_is_parquet(
    world: World, tmp_path: Path
):
    job = _run(world, EXTRACT)
    with client(world, "operator") as operator:
        mine = operator.job(job.id)
        table = mine.result()
        written = mine.download(tmp_path)
        with pytest.raises(InvalidRequest, match=r"use job.result\(\)"):
            mine.model()
    assert "phone" not in table.columns and table.height > 0
    assert (
        table.group_by([c for c in ("city", "age") if c in table.columns]).len()["len"].min() >= 5
    )
    assert written == tmp_path / f"job-{job.id}.parquet"
    assert pl.read_parquet(written).equals(table)


def test_train_when_released_then_model_is_the_json_and_result_points_to_it(
    world: World, tmp_path: Path
):
    job = _run(world, _train_spec())
    with client(world, "operator") as operator:
        mine = operator.job(job.id)
        model = mine.model()
        with pytest.raises(InvalidRequest, match=r"a model; use job.model\(\), job.predictor"):
            mine.result()
        written = mine.download(tmp_path / "model")
        manifest = mine.manifest()["manifest"]
        predicted = mine.predictor().predict(world.frame.head(50))
    assert len(model["parameters"]["coef"][0]) == 2  # one weight per declared feature
    # the client predicts what the service's own reader of the released file predicts
    assert predicted.to_list() == engine.predict(written, world.frame.head(50)).tolist()
    assert written == tmp_path / "model.json"
    assert hashlib.sha256(written.read_bytes()).hexdigest() == manifest["output"]["sha256"]


def test_custom_when_checks_fail_then_override_through_client_is_in_manifest_and_files_read(
    world: World, tmp_path: Path
):
    grant_id = _all_kinds_grant(world)
    spec = {"kind": "custom", "datasets": ["residents"], "source": SMALL_CELLS_SOURCE}
    with client(world, "operator") as operator:
        job = operator.submit(grant_id, spec, purpose="small counts")
        # an operator sees custom code as awaiting review from the start (no timing channel)
        assert job.status == "awaiting_review" and job.data["started_at"] is None
    with client(world, "steward") as steward:
        ran = steward.job(job.id).wait(timeout=180, poll=0.1, progress=False)
        assert ran.status == "awaiting_review"
        checks = {c["name"]: c["verdict"] for c in ran.data["report"]["checks"]}
        assert checks["small_cells"] == "fail"
        with pytest.raises(Conflict, match="override"):
            steward.review(job.id, "approve", "counts by city")
        released = steward.review(
            job.id, "approve", "counts by city", "a dozen sample rows, published as a demo"
        )
    assert released.status == "released"
    with client(world, "operator") as operator:
        mine = operator.job(job.id)
        manifest = mine.manifest()["manifest"]
        files = mine.files()
        written = mine.download(tmp_path)
        with pytest.raises(InvalidRequest, match=r"zip of files; use job.files\(\)"):
            mine.result()
    assert "small_cells" in manifest["overrides"]
    assert manifest["override_reason"] == "a dozen sample rows, published as a demo"
    assert list(files) == ["file-1.csv"]  # the sandbox names released files, not the code
    assert pl.read_csv(files["file-1.csv"])["count"].sum() == 12
    assert written == tmp_path / f"job-{job.id}.zip" and written.stat().st_size > 0
