"""Custom jobs through the service: grant limits, hostile code, and no timing channel.

`test_hostile.py` attacks the jail directly; here a few of the worst attacks go
through `/v1/jobs` on Ray, and the service must stay healthy, keep every output
in quarantine until review, and show the operator nothing of the run.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

import pytest

from jobs.kinds.custom import jail
from tests.factories import World, wait_status

if not os.access(jail.BWRAP, os.X_OK) and os.environ.get("CI"):
    raise RuntimeError(f"CI needs bubblewrap at {jail.BWRAP}")
pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(not os.access(jail.BWRAP, os.X_OK), reason="needs bubblewrap"),
]


def _grant(world: World, limits: dict[str, Any], kinds: tuple[str, ...] = ("custom",)) -> Any:
    return world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={
            "org_id": world.firm_id,
            "datasets": ["residents"],
            "purpose": "custom analysis under tight limits",
            "kinds": list(kinds),
            "epsilon": 1.0,
            "commitment_required": True,
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
            "limits": limits,
        },
    )


def _custom(world: World, grant_id: int, source: str) -> int:
    response = world.http.post(
        "/v1/jobs",
        headers=world.as_("operator"),
        json={
            "grant_id": grant_id,
            "spec": {"kind": "custom", "datasets": ["residents"], "source": source},
            "purpose": "hostile",
        },
    )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def _steward_view(world: World, job_id: int) -> dict[str, Any]:
    return dict(world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("steward")).json())


def test_grant_limits_when_set_through_the_api_then_stored_and_bounded(world: World):
    created = _grant(world, {"wall_s": 5, "processes": 32})
    assert created.status_code == 201, created.text
    shown = world.http.get(f"/v1/grants/{created.json()['id']}", headers=world.as_("steward"))
    assert shown.json()["limits"] == {"wall_s": 5, "processes": 32}
    for bad in ({"wall_s": 100_000}, {"wall_s": 0}, {"gpu": 1}):
        refused = _grant(world, bad)
        assert refused.status_code == 422, bad
        assert "100000" not in refused.text or "between" in refused.json()["message"]


def test_custom_when_code_sleeps_past_the_grant_wall_limit_then_killed_and_reviewable(
    world: World,
):
    grant_id = _grant(world, {"wall_s": 3}).json()["id"]
    started = time.monotonic()
    job_id = _custom(world, grant_id, "import time\ntime.sleep(600)\n")
    # the operator sees the job as awaiting review at once, without run times
    mine = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("operator")).json()
    assert mine["status"] == "awaiting_review"
    assert mine["started_at"] is None and mine["finished_at"] is None
    done = wait_status(world, job_id, {"awaiting_review", "failed"}, timeout=120)
    assert done["status"] == "awaiting_review", done.get("error")
    assert time.monotonic() - started < 60
    report = _steward_view(world, job_id)["report"]
    assert report["killed_by"] == "wall"
    assert report["succeeded"] is False


def test_custom_when_timing_differs_then_operator_views_are_identical(world: World):
    grant_id = _grant(world, {"wall_s": 30}).json()["id"]
    fast = _custom(world, grant_id, "print('fast')\n")
    slow = _custom(world, grant_id, "import time\ntime.sleep(4)\nprint('slow')\n")
    seen: set[tuple[Any, ...]] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        steward = {_steward_view(world, j)["status"] for j in (fast, slow)}
        for job_id in (fast, slow):
            view = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("operator")).json()
            seen.add((view["status"], view["started_at"], view["finished_at"]))
        listed = world.http.get(
            "/v1/jobs", params={"status": "running"}, headers=world.as_("operator")
        ).json()
        assert listed == []  # nor can the operator filter on the hidden status
        status = world.http.get("/v1/status", headers=world.as_("operator")).json()
        assert set(status["jobs"]) <= {"awaiting_review"}
        if steward == {"awaiting_review"}:
            break
        time.sleep(0.2)
    assert seen == {("awaiting_review", None, None)}


ATTACKS = {
    "fork_bomb": "import os\nwhile True:\n    os.fork()\n",
    "memory_bomb": "blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))\n",
    "disk_fill": (
        "with open('/output/fill.txt', 'w') as f:\n"
        "    while True:\n"
        "        f.write('x' * (1 << 20))\n"
    ),
    "network": (
        "import socket\n"
        "s = socket.create_connection(('127.0.0.1', 5432), timeout=2)\n"
        "open('/output/reached.txt', 'w').write('reached')\n"
    ),
}


def test_custom_when_hostile_code_runs_through_the_service_then_contained_and_unreleased(
    world: World,
):
    grant_id = _grant(world, {"wall_s": 10, "memory_bytes": 512 << 20}).json()["id"]
    jobs = {name: _custom(world, grant_id, source) for name, source in ATTACKS.items()}
    for name, job_id in jobs.items():
        done = wait_status(world, job_id, {"awaiting_review", "failed"}, timeout=180)
        assert done["status"] == "awaiting_review", (name, done.get("error"))
        report = _steward_view(world, job_id)["report"]
        assert report["succeeded"] is False, name  # killed, refused or failed: not a success
        download = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
        assert download.status_code == 403, name  # nothing leaves before review
        assert world.http.get("/healthz").status_code == 200
    # the service still runs ordinary jobs afterwards
    honest = _custom(world, grant_id, "open('/output/ok.txt', 'w').write('fine')\n")
    done = wait_status(world, honest, {"awaiting_review", "failed"}, timeout=120)
    assert done["status"] == "awaiting_review"
    assert _steward_view(world, honest)["report"]["succeeded"] is True


def test_custom_when_code_runs_long_then_the_operators_aggregates_are_not_held_back(
    world: World,
):
    # Two custom jobs could take both of Ray's CPU slots for as long as their code chose;
    # an aggregate's tasks would wait behind them, and its finished_at would tell the time.
    created = _grant(world, {"wall_s": 60}, kinds=("custom", "aggregate"))
    grant_id = created.json()["id"]
    held = [_custom(world, grant_id, f"import time\ntime.sleep(25)  # {i}\n") for i in range(2)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(_steward_view(world, j)["status"] == "running" for j in held):
            break
        time.sleep(0.2)
    time.sleep(2)  # both jails are running now
    started = time.monotonic()
    submitted = world.submit(grant_id=grant_id, epsilon=0.0731)  # no cached result
    assert submitted.status_code == 202, submitted.text
    aggregate = submitted.json()["id"]
    while time.monotonic() - started < 20:
        if _steward_view(world, aggregate)["status"] == "awaiting_review":
            break
        time.sleep(0.2)
    assert _steward_view(world, aggregate)["status"] == "awaiting_review"
    assert {_steward_view(world, j)["status"] for j in held} == {"running"}
