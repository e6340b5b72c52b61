"""Several real processes on one PostgreSQL database, as a bureau runs them behind a load
balancer: two API-only ``sandbox serve`` and two ``sandbox worker`` (each its own Ray).

Operators and stewards alternate between the two API processes through a whole flow
(ingest, grant, submit, status, review, download, manifest), a console session made on
one is used on the other, both workers run jobs, and the sign-in throttle holds across
both API processes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.audit import signing
from sandbox.cli.demo import free_port
from tests.factories import PUBLIC_KEYS, TAGS, aggregate_spec, auth, residents

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-fixed-test-secret-of-forty-eight-characters-xx"
#: Failed sign-ins an address may make per window here.
LIMIT = 4
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Deployment:
    """Two API processes (``a``, ``b``), two workers, and the first admin's token."""

    a: httpx.Client
    b: httpx.Client
    admin: str
    worker_logs: list[Path]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sandbox.cli.main", *args]


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{url} exited:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready in {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def database(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this module's deployment, dropped after it."""
    import sqlalchemy as sa

    name = f"sandbox_processes_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.engine.make_url(postgres_server).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def deployment(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Bootstrap (which migrates), then start the four processes in parallel (one
    deployment for the module: Ray starts in each worker)."""
    postgres_url = database
    tmp_path = tmp_path_factory.mktemp("processes")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "SANDBOX_DATABASE_URL": postgres_url,
        "SANDBOX_DATA_DIR": str(tmp_path / "data"),
        "SANDBOX_SECRET_KEY": SECRET,
        "SANDBOX_POLL_S": "0.2",
        "SANDBOX_AUTH_FAILURE_LIMIT": str(LIMIT),
        "SANDBOX_RAY_NUM_CPUS": "1",
        "SANDBOX_LOG_FORMAT": "json",
    }
    bootstrap = subprocess.run(
        _command("admin", "bootstrap"), env=env, cwd=tmp_path, capture_output=True, check=True
    )
    admin = bootstrap.stdout.decode().strip().splitlines()[-1]
    processes: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    logs: list[Path] = []
    api = {"SANDBOX_WORKERS": "0", "SANDBOX_UNTIMED_WORKERS": "0"}
    work = {"SANDBOX_WORKERS": "2", "SANDBOX_UNTIMED_WORKERS": "0"}
    plans = [
        ("api-a", api, ["serve"], "SANDBOX_PORT"),
        ("api-b", api, ["serve"], "SANDBOX_PORT"),
        ("worker-1", work, ["worker"], "SANDBOX_WORKER_PORT"),
        ("worker-2", work, ["worker"], "SANDBOX_WORKER_PORT"),
    ]
    try:
        for name, extra, args, port_var in plans:
            port = free_port()
            log = tmp_path / f"{name}.log"
            logs.append(log)
            with log.open("wb") as out:
                process = subprocess.Popen(
                    _command(*args),
                    env=env | extra | {port_var: str(port)},
                    cwd=tmp_path,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            processes.append((process, f"http://127.0.0.1:{port}", log))
        for process, url, log in processes:  # Ray starts in each worker: ~10 s, in parallel
            _wait_healthy(url, process, log, timeout=90)
        (_, url_a, _), (_, url_b, _) = processes[:2]
        with (
            httpx.Client(base_url=url_a, timeout=30) as a,
            httpx.Client(base_url=url_b, timeout=30) as b,
        ):
            yield Deployment(a, b, admin, logs[2:])
    finally:
        for process, _, _ in processes:
            process.kill()
        for process, _, _ in processes:
            process.wait(timeout=30)


def _ok(response: httpx.Response, expected: int = 200) -> Any:
    assert response.status_code == expected, response.text
    return response.json()


def _world(d: Deployment) -> dict[str, Any]:
    """Organisations, users, a dataset and a grant, each call on the other process."""
    http = cycle([d.a, d.b])

    def post(path: str, token: str, body: dict[str, Any]) -> Any:
        return _ok(next(http).post(path, headers=auth(token), json=body), 201)

    bureau = post("/v1/orgs", d.admin, {"name": "bureau", "kind": "bureau"})
    firm = post("/v1/orgs", d.admin, {"name": "firm", "kind": "operator"})
    tokens = {
        name: post("/v1/users", d.admin, {"name": name, "role": role, "org_id": org})["token"]
        for name, role, org in [
            ("steward", "steward", bureau["id"]),
            ("auditor", "auditor", bureau["id"]),
            ("operator", "operator", firm["id"]),
        ]
    }
    buffer = io.BytesIO()
    residents().write_parquet(buffer)
    metadata = {
        "name": "residents",
        "source": "test",
        "open_attribute": "unconditional",
        "grade": "general",
        "tags": TAGS,
        "privacy_unit": "resident_id",
        "public_keys": PUBLIC_KEYS,
    }
    ingested = d.a.post(  # ingest on A...
        "/v1/datasets",
        headers=auth(tokens["steward"]),
        files={"file": ("residents.parquet", buffer.getvalue())},
        data={"metadata": json.dumps(metadata)},
    )
    _ok(ingested, 201)
    grant = _ok(  # ...grant on B
        d.b.post(
            "/v1/grants",
            headers=auth(tokens["steward"]),
            json={
                "org_id": firm["id"],
                "datasets": ["residents"],
                "purpose": "statistics for a report",
                "kinds": ["aggregate"],
                "epsilon": 10.0,
                "commitment_required": True,
                "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
            },
        ),
        201,
    )
    return tokens | {"grant_id": grant["id"]}


def _wait(http: httpx.Client, token: str, job_id: int, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = _ok(http.get(f"/v1/jobs/{job_id}", headers=auth(token)))
        if job["status"] not in ("queued", "running"):
            return dict(job)
        assert time.monotonic() < deadline, f"job {job_id} stuck in {job['status']}"
        time.sleep(0.2)


def _ran_jobs(log: Path) -> set[int]:
    """Jobs a worker moved to running (its JSON lifecycle log lines)."""
    ran = set()
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "job.transition" and event.get("state") == "running":
                ran.add(int(event["job_id"]))
    return ran


def _sign_in(http: httpx.Client, token: str) -> httpx.Cookies:
    form = http.get("/console/login")
    csrf = _CSRF.search(form.text)
    assert csrf, form.text
    response = http.post("/console/login", data={"token": token, "csrf": csrf[1]})
    assert response.status_code == 303, response.text
    return http.cookies


def test_processes_when_roles_alternate_between_two_api_processes_then_the_flow_holds(
    deployment: Deployment,
) -> None:
    d = deployment
    w = _world(d)
    operator, steward = auth(w["operator"]), auth(w["steward"])

    # submit on A, several distinct queries (an identical one would be answered from cache)
    jobs = []
    for i in range(8):
        spec = aggregate_spec(epsilon=0.5, group_by=["city"] if i % 2 else ["age"])
        spec["aggregates"][1]["upper"] = 50_000 + 10_000 * i
        body = {"grant_id": w["grant_id"], "spec": spec, "purpose": f"table {i}"}
        jobs.append(_ok(d.a.post("/v1/jobs", headers=operator, json=body), 202)["id"])
    # status on B
    finished = [_wait(d.b, w["operator"], job_id) for job_id in jobs]
    assert {j["status"] for j in finished} == {"awaiting_review"}, finished
    ran = [_ran_jobs(log) for log in d.worker_logs]
    assert ran[0] | ran[1] == set(jobs) and not ran[0] & ran[1], ran
    assert ran[0] and ran[1], "one worker ran every job"

    # review and approve on A (the steward's console session is made on A, used on B)
    first = jobs[0]
    approve = {"decision": "approve", "reason": "checks pass"}
    _ok(d.a.post(f"/v1/jobs/{first}/review", headers=steward, json=approve))
    console_a = httpx.Client(base_url=str(d.a.base_url), follow_redirects=False)
    console_b = httpx.Client(base_url=str(d.b.base_url), follow_redirects=False)
    with console_a, console_b:
        console_b.cookies = _sign_in(console_a, w["steward"])
        queue = console_b.get("/console/queue")
        assert queue.status_code == 200 and f"/console/jobs/{jobs[1]}" in queue.text
        page = console_b.get(f"/console/jobs/{jobs[1]}")
        assert page.status_code == 200
        csrf = _CSRF.search(page.text)
        assert csrf
        decided = console_b.post(
            f"/console/jobs/{jobs[1]}/review",
            data={"decision": "approve", "reason": "checks pass", "csrf": csrf[1]},
        )
        assert decided.status_code == 303, decided.text
    assert _ok(d.a.get(f"/v1/jobs/{jobs[1]}", headers=operator))["status"] == "released"

    # download and verify the manifest on B
    for job_id in jobs[:2]:
        output = d.b.get(f"/v1/jobs/{job_id}/output", headers=operator)
        assert output.status_code == 200
        release = _ok(d.b.get(f"/v1/jobs/{job_id}/manifest", headers=operator))
        key = signing.public_key_pem(SECRET.encode())
        assert signing.verify(key, release["manifest"], release["signature"])
        digest = hashlib.sha256(output.content).hexdigest()
        assert digest == output.headers["X-Content-SHA256"]
        assert digest in json.dumps(release["manifest"])
    auditor = auth(w["auditor"])
    verdict = _ok(d.a.get("/v1/audit/verify", headers=auditor))
    assert verdict["ok"]
    budget = _ok(d.b.get(f"/v1/grants/{w['grant_id']}", headers=steward))
    assert budget["epsilon_spent"] == pytest.approx(8 * 0.5)


def test_processes_when_sign_ins_fail_on_both_api_processes_then_the_limit_holds_on_both(
    deployment: Deployment,
) -> None:
    d = deployment
    bad = auth("sbx_wrong")
    for http in [d.a, d.b] * (LIMIT // 2):  # the balancer spreads a guesser's tries
        assert http.get("/v1/datasets", headers=bad).status_code == 401
    for http in (d.a, d.b):
        refused = http.get("/v1/datasets", headers=bad)
        assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    with httpx.Client(base_url=str(d.b.base_url), follow_redirects=False) as browser:
        form = browser.get("/console/login")
        csrf = _CSRF.search(form.text)
        assert csrf
        response = browser.post("/console/login", data={"token": "sbx_x", "csrf": csrf[1]})
        assert response.status_code == 429
    # a valid token still works on both
    for http in (d.a, d.b):
        assert http.get("/v1/me", headers=auth(d.admin)).status_code == 200
