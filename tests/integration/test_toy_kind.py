"""A kind defined here, in the test, runs the whole way: submit, run, checks, review, download.

The issue's acceptance (14): a job kind is a registered plugin. This toy kind is
known to no file of the sandbox; registered with :meth:`jobs.kinds.Registry.registered`
it is granted, submitted through the API, run, checked, reviewed by a steward,
released with a signed manifest and downloaded, with no service, API, console or
client file naming it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from jobs.dp.accounting import Charge
from jobs.facts import DatasetFacts, GrantFacts
from jobs.kinds import KINDS, JobKind, KindCheckFacts, OutputShape
from jobs.runner import Outcome, Task, sha256_file
from policies.budget import PrivacyBudget
from policies.catalog import Product
from sandbox.access import grants
from sandbox.store.models import User
from tests.factories import World, wait_status

#: Rows are released in bands of this many (a toy's protection; no real kind does this).
BAND = 100


class ToySpec(BaseModel):
    """Counts a dataset's rows, rounded down to a band."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["toy"] = "toy"
    dataset: str
    epsilon: float = 0.25

    @property
    def datasets(self) -> list[str]:
        return [self.dataset]


@dataclass(frozen=True)
class ToyKind:
    """A job kind satisfying :class:`jobs.kinds.base.JobKind`, defined in this test only."""

    name: str = "toy"
    spec_type: type[BaseModel] = ToySpec
    product: Product = Product.STATISTICS
    untimed: bool = False
    output_formats: frozenset[str] = frozenset({"parquet"})
    shape: OutputShape = OutputShape.TABLE
    description: str = "Counts a dataset's rows in bands of a hundred (a test's toy)."
    partitioned: bool = False

    def options(
        self, grant: GrantFacts, datasets: Sequence[DatasetFacts], secret: bytes
    ) -> dict[str, Any]:
        return {"band": BAND}

    def validate(
        self, spec: Any, datasets: Sequence[DatasetFacts], options: Mapping[str, Any]
    ) -> None:
        assert options == {"band": BAND}

    def charge(self, spec: Any, datasets: Sequence[DatasetFacts], min_cell: int) -> Charge:
        return Charge(epsilon=spec.epsilon)

    def cost(self, spec: Any, charge: Charge) -> tuple[float, float]:
        return charge.standalone

    def estimate(
        self,
        spec: Any,
        datasets: Sequence[DatasetFacts],
        min_cell: int,
        *,
        expected_group_size: int | None = None,
    ) -> dict[str, Any]:
        return {"kind": self.name, "epsilon": spec.epsilon, "delta": 0.0}

    def run(self, task: Task) -> Outcome:
        spec = ToySpec.model_validate(task.spec)
        rows = pl.scan_parquet(task.inputs[spec.dataset]).select(pl.len()).collect().item()
        band = int(task.options["band"])
        table = pl.DataFrame({"rows_at_least": [rows // band * band]})
        out = Path(task.output_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        table.write_parquet(out)
        return Outcome(str(out), sha256_file(out), table.height, spec.epsilon, 0.0, cells=1)

    def ray_options(self, task: Task) -> dict[str, Any]:
        return {}

    def timeout_s(self, task: Task, default: float) -> float:
        return default

    def failed_outcome(self, task: Task, reason: str) -> Outcome | None:
        return None

    def check_facts(self, spec: Any, task: Task) -> KindCheckFacts:
        return KindCheckFacts(formats=self.output_formats, count_columns=("rows_at_least",))

    def describe(self, spec: Any) -> list[tuple[str, str]]:
        return [("counts", "rows, in bands")]

    def privacy_statement(self, spec: Any, report: Mapping[str, Any]) -> dict[str, Any]:
        return {"guarantee": f"rows rounded down to a multiple of {BAND}"}


class KindRunner:
    """Runs a task in this process with its kind (as Ray would, without Ray)."""

    def run(self, task: Task) -> Outcome:
        return KINDS[str(task.spec["kind"])].run(task)


@pytest.fixture(autouse=True)
def toy() -> Iterator[JobKind]:
    """The toy kind, registered while the test runs (and the service with it)."""
    with KINDS.registered(ToyKind()) as kind:
        yield kind


@pytest.fixture
def ray_runner() -> KindRunner:
    """The service's runner for these tests: the kind's own run, in this process."""
    return KindRunner()


def _toy_grant(world: World) -> int:
    """A grant of the toy kind to the world's firm (kinds accept what is registered)."""
    db = world.sandbox.db
    with db.session() as session:
        steward = session.scalars(select(User).where(User.name == "steward")).one()
        grant = grants.create(
            db,
            session,
            "user:steward",
            steward.id,
            org_id=world.firm_id,
            datasets=["residents"],
            purpose="row counts for a report",
            kinds=["toy"],
            budget=PrivacyBudget(1.0),
            expires_at=_later(),
            commitment_required=True,
        )
        return grant.id


def _later() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC) + dt.timedelta(days=30)


def test_toy_kind_when_registered_then_submitted_run_checked_reviewed_and_downloaded(
    world: World,
) -> None:
    assert isinstance(ToyKind(), JobKind)
    grant_id = _toy_grant(world)
    spec = {"kind": "toy", "dataset": "residents"}
    body = {"grant_id": grant_id, "spec": spec, "purpose": "how many residents"}

    estimate = world.http.post("/v1/jobs/estimate", headers=world.as_("operator"), json=body)
    assert estimate.status_code == 200, estimate.text
    assert estimate.json()["epsilon"] == 0.25 and estimate.json()["fits"] is True

    submitted = world.http.post("/v1/jobs", headers=world.as_("operator"), json=body)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    assert submitted.json()["kind"] == "toy" and submitted.json()["epsilon"] == 0.25

    job = wait_status(world, job_id, {"awaiting_review", "failed"})
    assert job["status"] == "awaiting_review", job["error"]
    checks = {c["name"]: c["verdict"] for c in job["report"]["checks"]}
    assert checks and set(checks.values()) == {"pass"}, job["report"]["checks"]
    assert job["report"]["rows"] == 1 and job["report"]["epsilon_spent"] == 0.25

    # the operator waits for review: nothing leaves before
    early = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
    assert early.status_code == 403

    reviewed = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "approve", "reason": "a banded count of all rows"},
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "released"

    output = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
    assert output.status_code == 200, output.text
    table = pl.read_parquet(io.BytesIO(output.content))
    assert table.to_dicts() == [{"rows_at_least": world.frame.height // BAND * BAND}]

    manifest = world.http.get(f"/v1/jobs/{job_id}/manifest", headers=world.as_("operator"))
    assert manifest.status_code == 200, manifest.text
    privacy = manifest.json()["manifest"]["privacy"]
    assert privacy["kind"] == "toy" and privacy["epsilon"] == 0.25
    assert privacy["guarantee"] == f"rows rounded down to a multiple of {BAND}"

    # an identical query gets the same answer, at no new cost
    again = world.http.post("/v1/jobs", headers=world.as_("operator"), json=body)
    assert again.status_code == 202 and again.json()["id"] == job_id

    actions = [
        e["action"]
        for e in world.http.get("/v1/audit", headers=world.as_("auditor")).json()
        if e["subject"] == f"job:{job_id}"
    ]
    assert actions == [
        "job.submit",
        "job.run",
        "job.finish",
        "review.approve",
        "output.download",
        "job.cache_hit",
    ], json.dumps(actions)
