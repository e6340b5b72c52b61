"""Console pages where a steward ingests a dataset: upload, the PII scan's proposals, confirm.

Two steps, with the catalog's own functions (those of ``POST /v1/datasets/propose``
and ``POST /v1/datasets``): the upload is scanned and kept for the session
(:mod:`sandbox.web.console.staged`); the confirm page shows each column's proposed
tag with its rule and evidence counts (never a value of the file), and the steward
sets tags, grade, open attribute, privacy unit, description and source, then
ingests (audited as ``dataset.ingest``). A refused confirmation comes back with
the reason at the top and the typed values kept; the file waits for a retry.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from policies.catalog import ColumnTag, Grade, OpenAttribute
from policies.errors import Conflict, InvalidRequest, NotFound, PolicyViolation, SandboxError
from policies.roles import Role
from sandbox.access.auth import Principal
from sandbox.catalog import datasets as catalog
from sandbox.service import Sandbox
from sandbox.web.console import staged
from sandbox.web.console.i18n import N_, gettext
from sandbox.web.console.web import ConsoleRoute, StewardDep, Viewer, ViewerDep, render
from sandbox.web.deps import SandboxDep
from sandbox.web.errors import status_of

router = APIRouter(prefix="/console/datasets", route_class=ConsoleRoute, include_in_schema=False)
#: Columns the confirm form takes: two fields each stay under the form parser's
#: 1,000 fields. Wider tables are ingested through the API or the CLI.
FORM_COLUMNS = 480
_REFUSED = (InvalidRequest, PolicyViolation, NotFound, Conflict)
_NAME = re.compile(r"[a-z][a-z0-9_]{1,63}")
#: How the pages name tags, rules and evidence (translated when shown).
TAG_LABELS = {
    ColumnTag.DIRECT_IDENTIFIER.value: N_("direct identifier"),
    ColumnTag.QUASI_IDENTIFIER.value: N_("quasi-identifier"),
    ColumnTag.SENSITIVE.value: N_("sensitive"),
    ColumnTag.PLAIN.value: N_("plain"),
}
RULE_LABELS = {
    "identifier values": N_("identifier values"),
    "identifiers in free text": N_("identifiers in free text"),
    "unique per row": N_("unique per row"),
    "column name": N_("column name"),
    "date or time": N_("date or time"),
    "no rule matched": N_("no rule matched"),
}
EVIDENCE_LABELS = {
    "sampled": N_("cells sampled"),
    "cells_with_identifier": N_("cells holding an identifier"),
    "cells_that_are_identifiers": N_("cells that are an identifier"),
    "entities": N_("identifiers found"),
    "distinct_share": N_("share of distinct values"),
    "name_matches": N_("name matches"),
    "dtype": N_("type"),
}
#: Words the evidence holds (what a column's name matched).
VALUE_LABELS = {
    "quasi": N_("quasi-identifier"),
    "sensitive": N_("sensitive"),
}
OPEN_LABELS = {
    OpenAttribute.UNCONDITIONAL.value: N_("unconditional"),
    OpenAttribute.CONDITIONAL.value: N_("conditional"),
    OpenAttribute.CLOSED.value: N_("closed"),
}
GRADE_LABELS = {
    Grade.GENERAL.value: N_("general"),
    Grade.IMPORTANT.value: N_("important"),
    Grade.CORE.value: N_("core"),
}


def get_ingesting_steward(viewer: ViewerDep) -> Viewer:
    """A steward viewing an ingest page (auditors read; they ingest nothing).

    Raises:
        PolicyViolation: An auditor.
    """
    if viewer.who.role is not Role.STEWARD:
        raise PolicyViolation(gettext("only stewards ingest datasets (art. 63); auditors read"))
    return viewer


IngestViewerDep = Annotated[Viewer, Depends(get_ingesting_steward)]


def _suggested_name(filename: str) -> str:
    """A dataset name from the file's name when it already is one (``residents.csv``)."""
    stem = PurePath(filename).stem.lower().replace("-", "_")
    return stem if _NAME.fullmatch(stem) else ""


def _upload_page(request: Request, viewer: Viewer, error: SandboxError | None = None) -> Response:
    return render(
        request,
        "ingest_upload.html",
        viewer,
        status_code=status_of(error) if error else 200,
        error=str(error) if error else "",
    )


@router.get("/new")
def upload_page(request: Request, viewer: IngestViewerDep) -> Response:
    """The upload form (CSV in UTF-8 or GB18030/GBK, or Parquet)."""
    return _upload_page(request, viewer)


@router.post("/propose")
def propose(
    request: Request,
    viewer: IngestViewerDep,
    steward: StewardDep,
    sandbox: SandboxDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Scan an upload and keep it for this session; then the confirm page."""
    try:
        if file is None or not file.filename:
            raise InvalidRequest(gettext("choose a CSV or Parquet file to upload"))
        held = staged.stage(
            sandbox.settings, viewer.session.id, steward.user_id, file.file, file.filename
        )
    except InvalidRequest as err:
        return _upload_page(request, viewer, err)
    return RedirectResponse(f"/console/datasets/staged/{held.id}", status_code=303)


def _confirm_page(
    request: Request,
    viewer: Viewer,
    held: staged.Staged,
    *,
    typed: dict[str, Any] | None = None,
    error: SandboxError | None = None,
) -> Response:
    columns = held.columns
    typed = typed or {
        "name": _suggested_name(held.filename),
        "source": "",
        "description": "",
        "open_attribute": OpenAttribute.CONDITIONAL.value,
        "grade": Grade.GENERAL.value,
        "privacy_unit": "",
        "tags": [held.proposals[c]["tag"] for c in columns],
        "overrides": ["" for _ in columns],
    }
    return render(
        request,
        "ingest_confirm.html",
        viewer,
        status_code=status_of(error) if error else 200,
        held=held,
        rows=[
            {"index": i, "name": c, "proposal": held.proposals[c]} for i, c in enumerate(columns)
        ],
        too_wide=len(columns) > FORM_COLUMNS,
        form_columns=FORM_COLUMNS,
        typed=typed,
        error=str(error) if error else "",
        tags=[t.value for t in ColumnTag],
        tag_label=TAG_LABELS,
        rule_label=RULE_LABELS,
        evidence_label=EVIDENCE_LABELS,
        value_label=VALUE_LABELS,
        open_label=OPEN_LABELS,
        grade_label=GRADE_LABELS,
    )


@router.get("/staged/{stage_id}")
def confirm_page(
    request: Request, stage_id: str, viewer: IngestViewerDep, sandbox: SandboxDep
) -> Response:
    """The proposals of a staged upload and the form that ingests it."""
    held = staged.load(sandbox.settings, stage_id, viewer.session.id)
    return _confirm_page(request, viewer, held)


async def column_inputs(request: Request) -> dict[str, str]:
    """The confirm form's per-column fields (``tag_<i>``, ``override_<i>``) as typed."""
    form = await request.form()
    return {
        k: v
        for k, v in form.items()
        if isinstance(v, str) and (k.startswith("tag_") or k.startswith("override_"))
    }


_E = TypeVar("_E", ColumnTag, Grade, OpenAttribute)


def _choice(kind: type[_E], value: str, what: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise InvalidRequest(
            gettext("choose the %(what)s from the list") % {"what": gettext(what)}
        ) from None


@router.post("/staged/{stage_id}")
def confirm(
    request: Request,
    stage_id: str,
    viewer: IngestViewerDep,
    steward: StewardDep,
    sandbox: SandboxDep,
    fields: Annotated[dict[str, str], Depends(column_inputs)],
    name: Annotated[str, Form(max_length=200)] = "",
    source: Annotated[str, Form(max_length=2000)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
    open_attribute: Annotated[str, Form(max_length=20)] = "",
    grade: Annotated[str, Form(max_length=20)] = "",
    privacy_unit: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Ingest a staged upload with the confirmed metadata (``catalog.ingest``, audited)."""
    held = staged.load(sandbox.settings, stage_id, viewer.session.id)
    columns = held.columns
    typed: dict[str, Any] = {
        "name": name,
        "source": source,
        "description": description,
        "open_attribute": open_attribute,
        "grade": grade,
        "privacy_unit": privacy_unit,
        "tags": [fields.get(f"tag_{i}", "") for i in range(len(columns))],
        "overrides": [fields.get(f"override_{i}", "")[:2000] for i in range(len(columns))],
    }
    try:
        dataset = _ingest(sandbox, steward, held, typed)
    except _REFUSED as err:
        return _confirm_page(request, viewer, held, typed=typed, error=err)
    except FileNotFoundError:
        # a second confirmation of the same upload, racing the first: it is gone
        staged.drop(sandbox.settings, held.id)
        raise staged.gone() from None
    staged.drop(sandbox.settings, held.id)
    return RedirectResponse(f"/console/catalog#dataset-{dataset}", status_code=303)


def _ingest(
    sandbox: Sandbox, steward: Principal, held: staged.Staged, typed: dict[str, Any]
) -> str:
    """Ingest with the catalog's rules; return the dataset's name.

    Only tags that differ from the proposal are declared, so an unchanged column keeps
    ``proposal`` as its tag's source in the catalog.
    """
    columns = held.columns
    tags: dict[str, ColumnTag] = {}
    overrides: dict[str, str] = {}
    for i, column in enumerate(columns):
        tag = _choice(ColumnTag, typed["tags"][i], N_("tag of every column"))
        if tag.value != held.proposals[column]["tag"]:
            tags[column] = tag
        if typed["overrides"][i].strip():
            overrides[column] = typed["overrides"][i].strip()
    unit = typed["privacy_unit"]
    if unit and unit not in columns:
        raise InvalidRequest(gettext("choose the privacy unit from the file's columns"))
    dataset = catalog.ingest(
        sandbox.db,
        sandbox.settings,
        steward.actor,
        steward.user_id,
        held.path,
        catalog.IngestRequest(
            name=typed["name"].strip(),
            source=typed["source"].strip(),
            open_attribute=_choice(OpenAttribute, typed["open_attribute"], N_("open attribute")),
            grade=_choice(Grade, typed["grade"], N_("grade")),
            tags=tags,
            description=typed["description"].strip(),
            privacy_unit=unit or None,
            overrides=overrides,
        ),
    )
    return dataset.name


@router.post("/staged/{stage_id}/discard")
def discard(
    stage_id: str, viewer: IngestViewerDep, steward: StewardDep, sandbox: SandboxDep
) -> Response:
    """Drop a staged upload without ingesting it."""
    held = staged.load(sandbox.settings, stage_id, viewer.session.id)
    staged.drop(sandbox.settings, held.id)
    return RedirectResponse("/console/datasets/new", status_code=303)
