"""Factories with defaults: a populated service reached over HTTP."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from fastapi.testclient import TestClient

from jobs.errors import JobFailed
from jobs.runner import Outcome, Task
from sandbox.access.auth import bootstrap
from sandbox.service import Sandbox

TAGS = {
    "resident_id": "direct_identifier",
    "phone": "direct_identifier",
    "city": "quasi_identifier",
    "age": "quasi_identifier",
    "income": "sensitive",
    "household_size": "plain",
}
CITIES = ["南京市", "苏州市", "无锡市"]
#: Declared public group-key domains (catalog metadata, not drawn from the data).
PUBLIC_KEYS = {"city": CITIES, "age": list(range(18, 78))}


def residents(n: int = 600) -> pl.DataFrame:
    """A small table with identifiers in it (fixed values, no randomness)."""
    return pl.DataFrame(
        {
            "resident_id": [f"32010219{80 + i % 20:02d}0101{i % 1000:03d}X" for i in range(n)],
            "phone": [f"139{i:08d}" for i in range(n)],
            "city": [CITIES[i % 3] for i in range(n)],
            "age": [18 + i % 60 for i in range(n)],
            "income": [30_000.0 + 100.0 * (i % 50) for i in range(n)],
            "household_size": [1 + i % 5 for i in range(n)],
        }
    )


def aggregate_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "aggregate",
        "dataset": "residents",
        "group_by": ["city"],
        "aggregates": [
            {"op": "count"},
            {"op": "mean", "column": "income", "lower": 0, "upper": 100_000},
        ],
        "epsilon": 1.0,
    }
    return spec | overrides


class RefusingRunner:
    """Runs nothing: a job that gets this far fails (for services that need no Ray)."""

    def run(self, task: Task) -> Outcome:
        raise JobFailed("this test service runs no jobs")

    def stop(self) -> None:
        """Nothing runs, nothing to stop (a service stops a runner it made on close)."""


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """A bureau with a steward and an auditor, two operator firms, one dataset, one grant."""

    http: TestClient
    sandbox: Sandbox
    admin: str
    steward: str
    auditor: str
    operator: str
    other_operator: str
    firm_id: int
    other_firm_id: int
    grant_id: int
    frame: pl.DataFrame = field(repr=False)

    def as_(self, who: str) -> dict[str, str]:
        return auth(getattr(self, who))

    def submit(self, who: str = "operator", grant_id: int | None = None, **spec: Any) -> Any:
        return self.http.post(
            "/v1/jobs",
            headers=self.as_(who),
            json={
                "grant_id": grant_id or self.grant_id,
                "spec": aggregate_spec(**spec),
                "purpose": "test job",
            },
        )

    def grant(self) -> dict[str, Any]:
        response = self.http.get(f"/v1/grants/{self.grant_id}", headers=self.as_("steward"))
        assert response.status_code == 200, response.text
        return dict(response.json())


def build_world(
    http: TestClient,
    sandbox: Sandbox,
    *,
    epsilon: float = 3.0,
    open_attribute: str = "unconditional",
    grade: str = "general",
) -> World:
    """Create organisations, users, a dataset and a grant through the API."""
    admin = bootstrap(sandbox.db)

    def post(path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        response = http.post(path, headers=auth(token), json=body)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    bureau = post("/v1/orgs", admin, {"name": "bureau", "kind": "bureau"})
    firm = post("/v1/orgs", admin, {"name": "firm", "kind": "operator"})
    other = post("/v1/orgs", admin, {"name": "other firm", "kind": "operator"})
    tokens = {
        name: post("/v1/users", admin, {"name": name, "role": role, "org_id": org})["token"]
        for name, role, org in [
            ("steward", "steward", bureau["id"]),
            ("auditor", "auditor", bureau["id"]),
            ("operator", "operator", firm["id"]),
            ("other_operator", "operator", other["id"]),
        ]
    }
    frame = residents()
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    import json

    response = http.post(
        "/v1/datasets",
        headers=auth(tokens["steward"]),
        files={"file": ("residents.parquet", buffer.getvalue())},
        data={
            "metadata": json.dumps(
                {
                    "name": "residents",
                    "source": "test factory",
                    "open_attribute": open_attribute,
                    "grade": grade,
                    "tags": TAGS,
                    "privacy_unit": "resident_id",
                    "public_keys": PUBLIC_KEYS,
                }
            )
        },
    )
    assert response.status_code == 201, response.text
    grant = post(
        "/v1/grants",
        tokens["steward"],
        {
            "org_id": firm["id"],
            "datasets": ["residents"],
            "purpose": "statistics for a report",
            "kinds": ["aggregate"],
            "epsilon": epsilon,
            "commitment_required": open_attribute == "conditional",
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        },
    )
    if grant["commitment_required"]:  # art. 34: the firm accepts its commitment itself
        post(f"/v1/grants/{grant['id']}/commitment", tokens["operator"], {})
    return World(
        http=http,
        sandbox=sandbox,
        admin=admin,
        steward=tokens["steward"],
        auditor=tokens["auditor"],
        operator=tokens["operator"],
        other_operator=tokens["other_operator"],
        firm_id=firm["id"],
        other_firm_id=other["id"],
        grant_id=grant["id"],
        frame=frame,
    )


def wait_status(
    world: World, job_id: int, statuses: set[str], timeout: float = 60.0
) -> dict[str, Any]:
    """Poll a job with a deadline until it reaches one of ``statuses``."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        job = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("steward")).json()
        if job["status"] in statuses:
            return dict(job)
        assert time.monotonic() < deadline, f"job {job_id} stuck in {job['status']}"
        time.sleep(0.05)


def seed_grant(db: Any, *, epsilon: float = 3.0, expires_in_days: float = 30) -> int:
    """An operator firm, its analyst, a dataset row and a grant on it, straight into ``db``
    (no HTTP, no files): rows for tests that read the store. Returns the grant's id."""
    from sqlalchemy import select

    from policies.budget import epsilon_units
    from policies.catalog import Grade, OpenAttribute
    from policies.roles import OrgKind, Role
    from sandbox.store.models import Dataset, Grant, Organisation, User

    with db.session() as session:
        firm = session.scalars(select(Organisation).where(Organisation.name == "firm")).first()
        if firm is None:
            firm = Organisation(name="firm", kind=OrgKind.OPERATOR)
            session.add(firm)
            session.flush()
            session.add(User(name="analyst", role=Role.OPERATOR, org_id=firm.id))
            session.flush()
            session.add(
                Dataset(
                    name="residents",
                    source="test factory",
                    open_attribute=OpenAttribute.UNCONDITIONAL,
                    grade=Grade.GENERAL,
                    path="residents",
                    sha256="0" * 64,
                    row_count=600,
                    created_by=1,
                    org_id=firm.id,
                )
            )
            session.flush()
        grant = Grant(
            org_id=firm.id,
            purpose="statistics for a report",
            kinds=["aggregate", "custom"],
            epsilon_total=epsilon_units(epsilon),
            delta_total=0,
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days),
            created_by=1,
        )
        session.add(grant)
        session.flush()
        return int(grant.id)


def seed_job(
    session: Any,
    grant_id: int,
    kind: str,
    status: str,
    *,
    waited_s: float = 0.0,
    ran_s: float | None = None,
    **fields: Any,
) -> Any:
    """A job row in ``status`` (set at creation, as a migration would load it), submitted
    ``waited_s`` seconds ago; with ``ran_s``, a run of that length that ended now."""
    from sandbox.store.models import Job

    now = dt.datetime.now(dt.UTC)
    times: dict[str, Any] = {"created_at": now - dt.timedelta(seconds=waited_s)}
    if ran_s is not None:
        times |= {"started_at": now - dt.timedelta(seconds=ran_s), "finished_at": now}
    job = Job(
        grant_id=grant_id,
        org_id=1,
        submitted_by=1,
        kind=kind,
        spec=fields.pop("spec", {"kind": kind}),
        status=status,
        epsilon=0,
        delta=0,
        **times,
        **fields,
    )
    session.add(job)
    session.flush()
    return job


def quarantined_job(world: World, *, epsilon: float = 0.0, **spec: Any) -> int:
    """An aggregate job of ``world``'s operator firm awaiting review, with a small table in
    quarantine (its SHA-256 recorded, no check failing): a job to approve, reject or return
    without running one. With ``epsilon``, its charge is in the grant's ledger, as a run
    leaves it. Returns the job's id."""
    import hashlib

    from sqlalchemy import select

    from policies.budget import epsilon_units
    from sandbox.store.models import Dataset, Job, LedgerEntry, User

    settings = world.sandbox.settings
    settings.quarantine_dir.mkdir(parents=True, exist_ok=True)
    table = pl.DataFrame({"city": CITIES, "count": [200, 200, 200]})
    with world.sandbox.db.session() as session:
        analyst = session.scalars(select(User).where(User.org_id == world.firm_id)).first()
        assert analyst is not None
        job = Job(
            grant_id=world.grant_id,
            org_id=world.firm_id,
            submitted_by=analyst.id,
            kind="aggregate",
            spec=aggregate_spec(**spec),
            purpose="test job",
            status="awaiting_review",
            epsilon=epsilon_units(epsilon),
            delta=0,
            report={"checks": []},
        )
        session.add(job)
        session.flush()
        path = settings.quarantine_dir / f"job-{job.id}.parquet"
        table.write_parquet(path)
        job.output_path = str(path.resolve())
        job.output_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        now = dt.datetime.now(dt.UTC)
        job.started_at, job.finished_at = now - dt.timedelta(seconds=1), now
        if epsilon:
            dataset = session.scalars(select(Dataset).where(Dataset.name == "residents")).one()
            session.add(
                LedgerEntry(
                    grant_id=world.grant_id,
                    dataset_id=dataset.id,
                    job_id=job.id,
                    epsilon=epsilon,
                    rho=0.0,
                    delta=0.0,
                    conversion_delta=0.0,
                )
            )
        return int(job.id)
