"""A fake service behind ``httpx.MockTransport``: the client's HTTP, without a server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.client import Client

COLUMNS = [
    ("resident_id", "String", "direct_identifier"),
    ("name", "String", "direct_identifier"),
    ("phone", "String", "direct_identifier"),
    ("address", "String", "direct_identifier"),
    ("city", "String", "quasi_identifier"),
    ("age", "Int64", "quasi_identifier"),
    ("income", "Float64", "sensitive"),
    ("household_size", "Int64", "plain"),
    ("born", "Date", "plain"),
    ("seen_at", "Datetime(time_unit='us', time_zone=None)", "plain"),
    ("note", "String", "plain"),
]
CITIES = ["南京市", "苏州市", "无锡市"]
DATASET: dict[str, Any] = {
    "name": "residents",
    "description": "<b>residents</b> & more",
    "source": "test",
    "open_attribute": "conditional",
    "grade": "general",
    "row_count": None,  # an operator's view: the public count only
    "public_row_count": 600,
    "partitions": 1,
    "sha256": None,
    "digest": "0" * 64,
    "org_id": 1,
    "privacy_unit": "resident_id",
    "public_keys": {"city": CITIES},
    "created_at": "2026-01-01T00:00:00Z",
    "columns": [{"name": n, "dtype": d, "tag": t} for n, d, t in COLUMNS],
}


def grant(gid: int, state: str = "active", datasets: tuple[str, ...] = ("residents",)) -> dict:
    return {
        "id": gid,
        "org_id": 2,
        "org_name": "firm",
        "datasets": list(datasets),
        "purpose": "report",
        "kinds": ["aggregate"],
        "state": state,
        "epsilon_total": 3.0,
        "epsilon_spent": 1.0,
        "epsilon_left": 2.0,
        "delta_total": 1e-6,
        "delta_spent": 0.0,
        "expires_at": "2027-01-01T00:00:00Z",
    }


@dataclass
class FakeService:
    """Answers the routes the client uses; records what was posted."""

    grants: list[dict[str, Any]] = field(default_factory=lambda: [grant(7)])
    statuses: list[str] = field(default_factory=lambda: ["queued", "running", "awaiting_review"])
    posted: list[tuple[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        body = json.loads(request.content) if request.content else None
        if method == "POST":
            self.posted.append((path, body))
        if path == "/v1/datasets":
            return httpx.Response(200, json=[DATASET])
        if path == "/v1/datasets/residents":
            return httpx.Response(200, json=DATASET)
        if path.startswith("/v1/datasets/"):
            return httpx.Response(404, json={"error": "not_found", "message": "no such dataset"})
        if path == "/v1/grants":
            return httpx.Response(200, json=self.grants)
        if path.startswith("/v1/grants/"):
            wanted = int(path.rsplit("/", 1)[1])
            return httpx.Response(200, json=next(g for g in self.grants if g["id"] == wanted))
        if path == "/v1/jobs/estimate":
            return httpx.Response(200, json=_estimate(body))
        if path == "/v1/jobs" and method == "POST":
            if body["spec"]["epsilon"] > 2.0:
                return httpx.Response(
                    409, json={"error": "budget_exhausted", "message": "ε left 2 < 3; lower it"}
                )
            return httpx.Response(202, json=self._job())
        if path == "/v1/jobs/1":
            return httpx.Response(200, json=self._job(advance=True))
        return httpx.Response(404, json={"error": "not_found", "message": f"no route {path}"})

    def _job(self, advance: bool = False) -> dict[str, Any]:
        status = self.statuses.pop(0) if advance and len(self.statuses) > 1 else self.statuses[0]
        return {
            "id": 1,
            "grant_id": 7,
            "org_id": 2,
            "kind": "aggregate",
            "status": status,
            "spec": {},
            "purpose": "<script>x</script>",
            "epsilon": 0.5,
            "delta": 0.0,
            "error": "",
            "created_at": "2026-01-01T00:00:00Z",
            "started_at": None,
            "finished_at": None,
        }


def _estimate(body: Any) -> dict[str, Any]:
    spec = body["spec"]
    return {
        "epsilon": spec["epsilon"],
        "delta": spec.get("delta", 0.0),
        "aggregates": [
            {"name": a.get("name", a["op"]), "op": a["op"], "ci_half_width": 4.2}
            for a in spec["aggregates"]
        ],
        "fits": True,
        "cached_job_id": None,
        "group_size": {
            "low": body.get("expected_group_size", 100),
            "high": body.get("expected_group_size", 100),
            "source": "argument" if "expected_group_size" in body else "default",
        },
        "warnings": [
            {
                "aggregate": "count",
                "probability": 0.3,
                "message": "计数可能低于最小单元格 10 <b>。 The count may fall below 10.",
            }
        ],
    }


def client(service: FakeService | None = None) -> Client:
    return Client(
        "http://sandbox.test", "sbx_test", transport=httpx.MockTransport(service or FakeService())
    )
