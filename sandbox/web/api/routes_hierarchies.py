"""A dataset's generalization hierarchies: the owning bureau's stewards store them, every
reader of the dataset sees their names and heights (an extract spec names them), only
the bureau downloads their lines (:mod:`sandbox.catalog.hierarchies`)."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Response, status
from fastapi.responses import PlainTextResponse

from policies.access import can_read_exact_facts_of, check_can_manage_datasets
from policies.errors import NotFound
from sandbox.catalog import datasets as catalog
from sandbox.catalog import hierarchies as steward
from sandbox.catalog.withdraw import visible
from sandbox.store.models import DatasetHierarchy
from sandbox.web.api.schemas import HierarchyPublic, HierarchyPut
from sandbox.web.deps import Caller, SandboxDep

router = APIRouter(tags=["catalog"])


def _view(h: DatasetHierarchy, *, lines: bool) -> HierarchyPublic:
    return HierarchyPublic(
        column=h.column,
        name=h.name,
        levels=h.levels,
        lines=h.lines if lines else None,
        created_at=h.created_at,
    )


@router.put("/datasets/{name}/hierarchies/{column}")
def put_hierarchy(
    name: str, column: str, body: HierarchyPut, who: Caller, sandbox: SandboxDep
) -> HierarchyPublic:
    """Store or replace the hierarchy of a quasi-identifier (steward of the owning bureau;
    audited). The body's ``csv`` is ARX's format; every value of the column needs a line."""
    row = steward.put(sandbox.db, who, name, column, body.csv, body.name)
    return _view(row, lines=True)


@router.get("/datasets/{name}/hierarchies")
def list_hierarchies(name: str, who: Caller, sandbox: SandboxDep) -> list[HierarchyPublic]:
    """The dataset's hierarchies: column, name and height (the line counts: its bureau and
    auditors only)."""
    with sandbox.db.session() as session:
        dataset = catalog.get(session, name)
        if not visible(who.role, [dataset]):
            raise NotFound(f"no dataset named '{name}'")
        exact = can_read_exact_facts_of(who.role, who.org_id, [dataset.org_id])
        return [_view(h, lines=exact) for h in dataset.hierarchies]


@router.get(
    "/datasets/{name}/hierarchies/{column}",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def download_hierarchy(name: str, column: str, who: Caller, sandbox: SandboxDep) -> Response:
    """The hierarchy's lines in ARX's CSV format (stewards of the owning bureau)."""
    with sandbox.db.session() as session:
        dataset = catalog.get(session, name)
        check_can_manage_datasets(who.role, who.org_id, [dataset.org_id])
        row = steward.get(session, dataset, column)
        return Response(
            row.csv.encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": _attachment(f"{name}-{row.name}.csv")},
        )


@router.delete("/datasets/{name}/hierarchies/{column}", status_code=status.HTTP_204_NO_CONTENT)
def delete_hierarchy(name: str, column: str, who: Caller, sandbox: SandboxDep) -> Response:
    """Delete the hierarchy of a column (steward of the owning bureau; audited)."""
    steward.delete(sandbox.db, who, name, column)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _attachment(filename: str) -> str:
    """A Content-Disposition for ``filename`` (RFC 6266): an ASCII fallback and the UTF-8
    name percent-encoded (RFC 5987), since headers are latin-1 and names are Chinese.

    >>> _attachment("年人口-城市.csv").split("; ")[1:]
    ['filename="-.csv"', "filename*=UTF-8''%E5%B9%B4%E4%BA%BA%E5%8F%A3-%E5%9F%8E%E5%B8%82.csv"]
    """
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "", filename) or "hierarchy.csv"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
