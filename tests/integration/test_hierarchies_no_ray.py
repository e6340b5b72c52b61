"""Steward hierarchies over HTTP, without Ray, on SQLite and PostgreSQL: store, read, delete,
ingest with them, and an extract spec naming one refused at submit when it is unknown."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sandbox.service import Sandbox
from sandbox.store.models import AuditEntry
from tests.factories import CITIES, TAGS, World, residents

#: ARX's format for the factory's cities: city -> region -> *.
CITY = "南京市;苏南;*\n苏州市;苏南;*\n无锡市;苏南;*\n"
PATH = "/v1/datasets/residents/hierarchies"


@pytest.fixture
def service(
    ray_free_service: tuple[TestClient, Sandbox],
) -> Iterator[tuple[TestClient, Sandbox]]:
    """No Ray: a job submitted here fails, and no test here waits for one."""
    yield ray_free_service


def _put(world: World, body: dict[str, Any], who: str = "steward", column: str = "city") -> Any:
    return world.http.put(f"{PATH}/{column}", headers=world.as_(who), json=body)


def _actions(world: World) -> list[tuple[str, dict[str, Any]]]:
    with world.sandbox.db.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("dataset.hierarchy.%"))
        ).all()
        return [(e.action, dict(e.details)) for e in entries]


def test_hierarchy_when_steward_stores_one_then_operators_see_its_height_only(world: World):
    stored = _put(world, {"csv": CITY, "name": "region"})
    assert stored.status_code == 200, stored.text
    assert stored.json() | {"created_at": None} == {
        "column": "city", "name": "region", "levels": 2, "lines": 3, "created_at": None
    }  # fmt: skip
    mine = world.http.get(PATH, headers=world.as_("operator")).json()
    assert [(h["column"], h["name"], h["levels"], h["lines"]) for h in mine] == [
        ("city", "region", 2, None)
    ]
    theirs = world.http.get(PATH, headers=world.as_("steward")).json()
    assert theirs[0]["lines"] == 3
    download = world.http.get(f"{PATH}/city", headers=world.as_("steward"))
    assert download.status_code == 200 and download.text == CITY
    assert download.headers["content-type"].startswith("text/csv")
    assert world.http.get(f"{PATH}/city", headers=world.as_("operator")).status_code == 403
    assert _actions(world) == [
        (
            "dataset.hierarchy.put",
            {"dataset": "residents", "column": "city", "name": "region", "levels": 2,
             "lines": 3, "replaced": False},
        )
    ]  # fmt: skip


def test_hierarchy_when_its_name_is_chinese_then_downloaded_with_an_encoded_file_name(
    world: World,
):
    assert _put(world, {"csv": CITY, "name": "城市分区"}).status_code == 200
    download = world.http.get(f"{PATH}/city", headers=world.as_("steward"))
    assert download.status_code == 200 and download.text == CITY
    disposition = download.headers["content-disposition"]
    assert "filename*=UTF-8''residents-%E5%9F%8E%E5%B8%82%E5%88%86%E5%8C%BA.csv" in disposition


def test_hierarchy_when_a_value_of_the_column_has_no_line_then_422_naming_no_value(world: World):
    response = _put(world, {"csv": "南京市;苏南;*\n苏州市;苏南;*\n"})
    assert response.status_code == 422
    message = response.json()["message"]
    assert "no line" in message and "city" in message
    assert not [c for c in CITIES if c in message]
    assert world.http.get(PATH, headers=world.as_("steward")).json() == []


@pytest.mark.parametrize(
    ("body", "column", "expected"),
    [
        ({"csv": "南京市;苏南;*\n苏州市;*\n"}, "city", "line 2"),  # ragged: levels differ
        ({"csv": "南京市;苏南\n"}, "city", "does not end in '*'"),  # no top level
        ({"csv": "1;*\n"}, "income", "quasi-identifier"),  # a sensitive column
        ({"csv": "x;*\n"}, "nope", "no column 'nope'"),  # no such column
    ],
)
def test_hierarchy_when_malformed_or_misplaced_then_422(
    world: World, body: dict[str, Any], column: str, expected: str
):
    response = _put(world, body, column=column)
    assert response.status_code == 422, response.text
    assert expected in response.json()["message"]


def test_hierarchy_when_an_operator_stores_or_deletes_one_then_403(world: World):
    assert _put(world, {"csv": CITY}, who="operator").status_code == 403
    assert _put(world, {"csv": CITY}).status_code == 200
    response = world.http.delete(f"{PATH}/city", headers=world.as_("operator"))
    assert response.status_code == 403


def test_hierarchy_when_deleted_then_gone_and_audited(world: World):
    assert _put(world, {"csv": CITY}).status_code == 200
    assert _put(world, {"csv": CITY}).json()["name"] == "city"  # replaced, default name
    response = world.http.delete(f"{PATH}/city", headers=world.as_("steward"))
    assert response.status_code == 204
    assert world.http.get(PATH, headers=world.as_("steward")).json() == []
    assert world.http.delete(f"{PATH}/city", headers=world.as_("steward")).status_code == 404
    assert [(a, d.get("replaced")) for a, d in _actions(world)] == [
        ("dataset.hierarchy.put", False),
        ("dataset.hierarchy.put", True),
        ("dataset.hierarchy.delete", None),
    ]


def test_hierarchy_when_ingested_with_the_dataset_then_listed_under_the_column(world: World):
    buffer = io.BytesIO()
    residents().write_parquet(buffer)
    metadata = {
        "name": "with_hierarchy",
        "source": "test factory",
        "open_attribute": "unconditional",
        "grade": "general",
        "tags": TAGS,
        "privacy_unit": "resident_id",
        "hierarchies": {"city": CITY},
    }
    created = world.http.post(
        "/v1/datasets",
        headers=world.as_("steward"),
        files={"file": ("d.parquet", buffer.getvalue())},
        data={"metadata": json.dumps(metadata)},
    )
    assert created.status_code == 201, created.text
    listed = world.http.get(
        "/v1/datasets/with_hierarchy/hierarchies", headers=world.as_("steward")
    ).json()
    assert [(h["column"], h["name"], h["levels"]) for h in listed] == [("city", "city", 2)]
    refused = world.http.post(
        "/v1/datasets",
        headers=world.as_("steward"),
        files={"file": ("d.parquet", buffer.getvalue())},
        data={
            "metadata": json.dumps(
                metadata | {"name": "short", "hierarchies": {"city": "南京市;*"}}
            )
        },
    )
    assert refused.status_code == 422 and "no line" in refused.json()["message"]
    names = [d["name"] for d in world.http.get("/v1/datasets", headers=world.as_("steward")).json()]
    assert "short" not in names  # nothing stored


def _extract_grant(world: World) -> int:
    response = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={
            "org_id": world.firm_id,
            "datasets": ["residents"],
            "purpose": "anonymized extracts for a report",
            "kinds": ["extract"],
            "epsilon": 1.0,
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_extract_when_spec_names_an_unknown_hierarchy_then_422_at_submit(world: World):
    grant_id = _extract_grant(world)
    spec = {
        "kind": "extract",
        "dataset": "residents",
        "columns": ["city", "age"],
        "hierarchies": {"city": {"kind": "named", "name": "region"}},
        "metric": "non_uniform_entropy",
    }
    body = {"grant_id": grant_id, "spec": spec, "purpose": "an extract"}
    refused = world.http.post("/v1/jobs", headers=world.as_("operator"), json=body)
    assert refused.status_code == 422, refused.text
    assert "no hierarchy named 'region'" in refused.json()["message"]
    assert _put(world, {"csv": CITY, "name": "region"}).status_code == 200
    accepted = world.http.post("/v1/jobs", headers=world.as_("operator"), json=body)
    assert accepted.status_code == 202, accepted.text


def test_hierarchy_audit_when_read_by_an_admin_then_the_line_count_is_redacted(world: World):
    assert _put(world, {"csv": CITY}).status_code == 200

    def entry(who: str) -> dict[str, Any]:
        rows = world.http.get("/v1/audit", headers=world.as_(who), params={"limit": 1000}).json()
        return next(e for e in rows if e["action"] == "dataset.hierarchy.put")

    assert entry("auditor")["details"]["lines"] == 3
    admin = entry("admin")
    assert "lines" not in admin["details"] and admin["redacted"] == ["lines"]
    assert admin["details"]["levels"] == 2
