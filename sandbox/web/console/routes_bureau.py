"""Console pages of the bureau: grants (art. 35, 76), the catalog, the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from jobs.kinds import KINDS
from policies.access import can_manage_datasets, can_read_exact_facts_of
from policies.budget import PrivacyBudget
from policies.errors import InvalidRequest, NotFound, PolicyViolation
from policies.grants import GrantState
from sandbox.access import grants, ledger
from sandbox.audit.anchors import retired_keys
from sandbox.audit.verify import verify as verify_chain
from sandbox.catalog.datasets import list_all
from sandbox.service import Sandbox
from sandbox.store.models import AuditEntry, Organisation
from sandbox.web.audit_view import entry_views
from sandbox.web.console.grant_terms import (
    FIELD_PREFIX,
    LIMIT_FIELDS,
    effective_limits,
    grade_defaults,
    parse_limits,
)
from sandbox.web.console.i18n import N_, gettext
from sandbox.web.console.profile import profile
from sandbox.web.console.web import (
    ConsoleRoute,
    Refusal,
    StewardDep,
    TypedFormDep,
    Viewer,
    ViewerDep,
    parse_form,
    render,
)
from sandbox.web.deps import SandboxDep
from sandbox.web.params import MAX_ID, IdPath

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
#: Entries the audit page shows (newest first).
AUDIT_ROWS = 200
_ACTIONS: dict[str, GrantState] = {
    "suspend": GrantState.SUSPENDED,
    "reinstate": GrantState.ACTIVE,
    "terminate": GrantState.TERMINATED,
}


@router.get("/grants")
def grants_page(request: Request, viewer: ViewerDep, sandbox: SandboxDep) -> Response:
    """Every grant with its terms, budget and state; stewards also get the forms."""
    return _grants_page(request, viewer, sandbox)


def _grants_page(
    request: Request,
    viewer: Viewer,
    sandbox: Sandbox,
    *,
    refusal: Refusal | None = None,
) -> Response:
    """The grants page; after a refused form, its reason at the top and what was typed."""
    with sandbox.db.session() as session:
        rows = [
            {
                "grant": g,
                "datasets": [d.name for d in g.datasets],
                "total": PrivacyBudget.from_units(g.epsilon_total, g.delta_total),
                # per dataset: this grant's spend, the firm's under all its grants, what is left
                "budgets": ledger.grant_budgets(session, g),
                "limits": effective_limits(g.limits),
                # the forms only where this steward's bureau owns every dataset (art. 63)
                "manageable": can_manage_datasets(
                    viewer.who.role, viewer.who.org_id, [d.org_id for d in g.datasets]
                ),
            }
            for g in grants.list_for(session, None)
        ]
        orgs = list(
            session.scalars(
                select(Organisation)
                .where(Organisation.kind == "operator")
                .order_by(Organisation.name)
            )
        )
        return render(
            request,
            "grants.html",
            viewer,
            status_code=refusal.status if refusal else 200,
            rows=rows,
            orgs=orgs,
            datasets=[
                d.name
                for d in list_all(session)
                if can_manage_datasets(viewer.who.role, viewer.who.org_id, [d.org_id])
            ],
            kinds=sorted(KINDS.names()),
            default_kind=KINDS.names()[0],
            limit_fields=LIMIT_FIELDS,
            grade_defaults=grade_defaults(),
            default_expiry=(dt.date.today() + dt.timedelta(days=365)).isoformat(),
            refusal=refusal,
            page_path="/console/grants",
        )


class GrantForm(BaseModel):
    """The create-grant form's fields and ranges (:func:`grants.create` checks the rules)."""

    model_config = ConfigDict(extra="ignore")

    org_id: int = Field(ge=1, le=MAX_ID)
    datasets: list[str] = Field(min_length=1)
    kinds: list[str] = Field(min_length=1)
    purpose: str = Field(max_length=4000)
    epsilon: float = Field(gt=0, le=1000)
    delta: float = Field(default=0.0, ge=0, lt=1)
    expires: dt.date
    min_cell: str = Field(default="", max_length=6)
    extract_k: str = Field(default="", max_length=6)
    allow_linkage: bool = False
    commitment_required: bool = False


#: The create-grant form's field labels (msgids), to name a wrong field.
GRANT_LABELS = {
    "org_id": N_("Operator organisation"),
    "datasets": N_("Datasets"),
    "kinds": N_("Job kinds"),
    "purpose": N_("Purpose (art. 34)"),
    "epsilon": N_("ε budget"),
    "delta": N_("δ budget"),
    "expires": N_("Expires"),
    "min_cell": N_("small-cell threshold"),
    "extract_k": N_("extract k"),
}


class PeriodForm(BaseModel):
    """The budget-period form's fields."""

    model_config = ConfigDict(extra="ignore")

    org_id: int = Field(ge=1, le=MAX_ID)
    dataset: str = Field(max_length=64)
    reason: str = Field(default="", max_length=2000)


PERIOD_LABELS = {
    "org_id": N_("Operator organisation"),
    "dataset": N_("Dataset"),
    "reason": N_("Reason (audited)"),
}


def _whole(text: str, what: str) -> int | None:
    """A blank-or-whole-number form field; the message names the field, never the input."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise InvalidRequest(
            gettext("the %(field)s is a whole number; leave it blank for the default")
            % {"field": gettext(what)}
        )
    return int(text)


@router.post("/grants")
def create_grant(
    request: Request,
    viewer: ViewerDep,
    steward: StewardDep,
    sandbox: SandboxDep,
    typed: TypedFormDep,
) -> Response:
    """Create a grant (the same rules as ``POST /v1/grants``, checked by :func:`grants.create`).

    A refused form comes back as the grants page with the reason at the top and what was
    typed (status 4xx); the reason names fields and ranges, never what was typed.
    """
    try:
        form = parse_form(GrantForm, typed, GRANT_LABELS)
        cell = _whole(form.min_cell, N_("small-cell threshold"))
        k = _whole(form.extract_k, N_("extract k"))
        limits = parse_limits(
            {n: v[-1] for n, v in typed.items() if n.startswith(FIELD_PREFIX) and v}
        )
        with sandbox.db.session() as session:
            grants.create(
                sandbox.db,
                session,
                steward.actor,
                steward.user_id,
                org_id=form.org_id,
                datasets=form.datasets,
                purpose=form.purpose,
                kinds=form.kinds,
                budget=PrivacyBudget(form.epsilon, form.delta),
                expires_at=dt.datetime.combine(form.expires, dt.time(23, 59, 59), dt.UTC),
                commitment_required=form.commitment_required,
                min_cell=cell,
                extract_k=k,
                allow_linkage=form.allow_linkage,
                limits=limits,
            )
    except (InvalidRequest, PolicyViolation, NotFound) as err:
        refusal = Refusal.of(err, typed, N_("The grant was not created"), form="grant")
        return _grants_page(request, viewer, sandbox, refusal=refusal)
    return RedirectResponse("/console/grants", status_code=303)


@router.post("/grants/{grant_id}/{action}")
def change_grant(
    grant_id: IdPath,
    action: Literal["suspend", "reinstate", "terminate"],
    steward: StewardDep,
    sandbox: SandboxDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Suspend, reinstate or terminate a grant with a reason (art. 76; audited)."""
    with sandbox.db.session() as session:
        grants.transition(
            sandbox.db,
            session,
            steward.actor,
            grant_id,
            _ACTIONS[action],
            reason,
            user_id=steward.user_id,
        )
    return RedirectResponse("/console/grants", status_code=303)


@router.post("/budgets/periods")
def start_budget_period(
    request: Request,
    viewer: ViewerDep,
    steward: StewardDep,
    sandbox: SandboxDep,
    typed: TypedFormDep,
) -> Response:
    """Start a new budget period for a firm on a dataset (audited; same rules as the API)."""
    try:
        form = parse_form(PeriodForm, typed, PERIOD_LABELS)
        with sandbox.db.session() as session:
            ledger.start_period(
                sandbox.db,
                session,
                steward.actor,
                steward.user_id,
                steward_org=steward.org_id,
                org_id=form.org_id,
                dataset=form.dataset,
                reason=form.reason,
            )
    except (InvalidRequest, NotFound, PolicyViolation) as err:
        refusal = Refusal.of(err, typed, N_("No new period was started"), form="period")
        return _grants_page(request, viewer, sandbox, refusal=refusal)
    return RedirectResponse("/console/grants", status_code=303)


@router.get("/catalog")
def catalog_page(request: Request, viewer: ViewerDep, sandbox: SandboxDep) -> Response:
    """Datasets: classification, column tags and their source, the steward's hierarchies;
    the exact count, SHA-256 and quality profile (no values) for the bureau holding a
    dataset and auditors (art. 63)."""
    with sandbox.db.session() as session:
        datasets = list_all(session)
        # the steward's hierarchies: column, name and height (never their lines)
        hierarchies = {
            d.name: [(h.column, h.name, h.levels) for h in d.hierarchies] for d in datasets
        }
    who = viewer.who
    exact = {d.name: can_read_exact_facts_of(who.role, who.org_id, [d.org_id]) for d in datasets}
    profiles = {
        d.name: {p.name: p for p in profile(d.path, d.sha256, d.row_count)} if exact[d.name] else {}
        for d in datasets
    }
    return render(
        request,
        "catalog.html",
        viewer,
        datasets=datasets,
        profiles=profiles,
        exact=exact,
        hierarchies=hierarchies,
    )


@router.get("/audit")
def audit_page(request: Request, viewer: ViewerDep, sandbox: SandboxDep) -> Response:
    """Recent audit entries and whether the hash chain holds."""
    with sandbox.db.session() as session:
        verification = verify_chain(
            session,
            sandbox.settings.secret(),
            retired=retired_keys(sandbox.settings.audit_retired_keys),
        )
        entries = entry_views(
            session,
            viewer.who,
            session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(AUDIT_ROWS)),
        )
    return render(request, "audit.html", viewer, verification=verification, entries=entries)
