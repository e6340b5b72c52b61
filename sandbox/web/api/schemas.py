"""HTTP schemas: what a caller may set (``*Create``) and may see (``*Public``) are separate.

The module is long because every request and answer body of ``/v1`` is declared here with
each field documented, so the OpenAPI document is complete; it holds no logic.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    GetPydanticSchema,
    Json,
    TypeAdapter,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from policies.airlock import MIN_REASON_LENGTH, Decision, JobStatus
from policies.budget import PrivacyBudget
from policies.catalog import MAX_GROUP_SIZE, ColumnTag, Grade, OpenAttribute
from policies.grants import commitment_text
from policies.roles import OrgKind, Role
from sandbox.access.ledger import DatasetBudget, summary
from sandbox.airlock.decisions import Decided
from sandbox.jobs.lifecycle import view_of
from sandbox.store.models import Dataset, Grant, Job
from sandbox.web.api.fields import NAME_LENGTH, KindName, kind_choices, name_check
from sandbox.web.params import Id

#: Longest hierarchy a request carries (ARX's CSV of up to a million lines).
MAX_HIERARCHY_CHARS = 16_000_000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgCreate(_In):
    name: Annotated[
        str, Field(min_length=1, max_length=NAME_LENGTH), name_check("organisation name")
    ]
    kind: OrgKind


class OrgPublic(BaseModel):
    id: int
    name: str
    kind: OrgKind


class UserCreate(_In):
    name: Annotated[
        str,
        Field(min_length=1, max_length=NAME_LENGTH),
        name_check("user name", r"[\w.@-]+", "letters, digits, '_', '.', '@' and '-'"),
    ]
    role: Role
    org_id: Id


class UserPublic(BaseModel):
    id: int
    name: str
    role: Role
    org_id: int
    org_name: str


class TokenPublic(BaseModel):
    """A token is shown once, here; the service keeps only its hash."""

    user: UserPublic
    token: str


class ColumnPublic(BaseModel):
    """A column as the catalog shows it.

    ``tag_source``, ``proposed_tag`` and ``evidence`` are for stewards,
    auditors and admins only: the evidence holds exact counts from the raw
    data (sampled cells, identifiers found), which an operator must not see.
    """

    name: str
    dtype: str
    tag: ColumnTag
    #: steward, proposal or override (a less protective tag than proposed, with a reason)
    tag_source: str | None = None
    proposed_tag: str | None = None
    evidence: dict[str, Any] | None = None


class ProposalPublic(BaseModel):
    """A proposed tag for a column and the evidence (counts, entity names; no values)."""

    tag: ColumnTag
    rule: str
    evidence: dict[str, Any]


class GroupSizeBandIn(_In):
    """Rows a group is expected to hold, from ``low`` to ``high`` (a planning figure)."""

    low: int = Field(ge=1, le=MAX_GROUP_SIZE)
    high: int = Field(ge=1, le=MAX_GROUP_SIZE)


class DatasetCreate(_In):
    name: str
    source: str = Field(min_length=1, max_length=2000)
    description: str = Field(default="", max_length=4000)
    open_attribute: OpenAttribute
    grade: Grade
    #: Columns left out take the detectors' proposal.
    tags: dict[str, ColumnTag] = Field(default_factory=dict)
    #: column -> reason, for a declared tag less protective than the proposal.
    overrides: dict[str, str] = Field(default_factory=dict)
    #: Column identifying a person (contribution bounding); None: one row per person.
    privacy_unit: str | None = None
    #: Declared public group-key domains (e.g. the 13 cities of Jiangsu).
    public_keys: dict[str, list[str | int | float | bool]] = Field(default_factory=dict)
    #: Accepts declared public keys that miss values of the data (those rows drop out
    #: of results grouped by the column); audited. Without it such keys are refused.
    public_keys_confirm_reason: str = Field(default="", max_length=2000)
    #: Expected rows per group, for estimates: ``{"city": {"low": 200, "high": 2000}}``; a key
    #: may join columns (``"city,sex"``). See :func:`policies.catalog.check_group_size_bands`.
    group_size_bands: dict[str, GroupSizeBandIn] = Field(default_factory=dict, max_length=100)
    #: Quasi-identifier -> its generalization hierarchy in ARX's CSV format
    #: (``value;level1;…;*`` per line), stored under the column's name for extracts.
    hierarchies: dict[str, str] = Field(default_factory=dict, max_length=100)


def _as_dataset_create_json(_core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
    """The form field's schema: a JSON string whose content is a :class:`DatasetCreate`."""
    return handler(TypeAdapter(Json[DatasetCreate]).core_schema)


#: The ``metadata`` form field of an ingest: JSON text of a :class:`DatasetCreate`. The route
#: parses it itself (its refusal names no value and survives nesting too deep to parse), so
#: it stays a string at run time; the OpenAPI document names the schema of its content.
DatasetCreateJson = Annotated[
    str, GetPydanticSchema(get_pydantic_json_schema=_as_dataset_create_json)
]


class DatasetPublic(BaseModel):
    """Catalog metadata; never a row.

    ``row_count`` and ``sha256`` are exact facts of the stored data: stewards and
    auditors get them, operators and admins get ``null`` (a table's exact size and
    plain hash let a guessed table be tested against the real one). Everyone gets
    ``public_row_count`` (noisy, rounded, drawn once at ingest) and ``digest``, the
    keyed digest manifests commit to (:mod:`sandbox.catalog.facts`).
    """

    name: str
    description: str
    source: str
    open_attribute: OpenAttribute
    grade: Grade
    #: Exact rows; ``null`` for operators and admins.
    row_count: int | None
    #: Noisy row count (discrete Laplace, ε = 0.1, two significant figures).
    public_row_count: int
    partitions: int
    #: Plain SHA-256 of the stored files; ``null`` for operators and admins.
    sha256: str | None
    #: Keyed digest of the stored files (HMAC-SHA256 under a deployment sub-key).
    digest: str
    privacy_unit: str | None
    #: Rows whose privacy unit is null, NaN or blank, dropped from every job: admins, stewards
    #: and auditors see it (as all catalog evidence), operators never (null for them). Null
    #: also for a dataset ingested before the count existed: not counted.
    null_unit_rows: int | None = None
    public_keys: dict[str, list[Any]]
    #: The steward's expected rows per group, for estimates (``{}``: none declared).
    group_size_bands: dict[str, dict[str, int]] = Field(default_factory=dict)
    #: The owning bureau's organisation id.
    org_id: int
    created_at: dt.datetime
    columns: list[ColumnPublic]
    #: When its bureau withdrew it (files deleted, grants terminated); null: in the catalog.
    withdrawn_at: dt.datetime | None = None
    withdrawn_reason: str | None = None

    @classmethod
    def of(cls, d: Dataset, *, with_evidence: bool, exact: bool, digest: str) -> DatasetPublic:
        """The dataset as a role sees it: ``exact`` for stewards and auditors
        (:func:`policies.access.can_read_exact_facts`)."""
        return cls(
            name=d.name,
            description=d.description,
            source=d.source,
            open_attribute=OpenAttribute(d.open_attribute),
            grade=Grade(d.grade),
            row_count=d.row_count if exact else None,
            public_row_count=d.public_row_count,
            partitions=d.partitions,
            sha256=d.sha256 if exact else None,
            digest=digest,
            privacy_unit=d.privacy_unit,
            null_unit_rows=d.null_unit_rows if with_evidence else None,
            public_keys=d.public_keys,
            group_size_bands=dict(d.group_size_bands or {}),
            org_id=d.org_id,
            created_at=d.created_at,
            withdrawn_at=d.withdrawn_at,
            withdrawn_reason=d.withdrawn_reason if d.withdrawn_at is not None else None,
            columns=[
                ColumnPublic(
                    name=c.name,
                    dtype=c.dtype,
                    tag=ColumnTag(c.tag),
                    tag_source=c.tag_source if with_evidence else None,
                    proposed_tag=c.proposed_tag if with_evidence else None,
                    evidence=c.evidence if with_evidence else None,
                )
                for c in d.columns
            ],
        )


class InputCheckPublic(BaseModel):
    """A released job's input recomputed from the stored files and compared with its manifest."""

    name: str
    digest: str
    files_match_catalog: bool
    matches: bool | None


class GrantCreate(_In):
    org_id: Id
    datasets: list[str] = Field(min_length=1)
    purpose: str = Field(max_length=4000)
    kinds: list[KindName] = Field(min_length=1, json_schema_extra=kind_choices)
    epsilon: float = Field(gt=0, le=1000)
    delta: float = Field(default=0.0, ge=0, lt=1)
    #: With a time zone (``2026-12-31T23:59:59+08:00``); stored in UTC.
    expires_at: AwareDatetime
    #: The operator firm must accept the data-use commitment before its jobs use a
    #: conditionally open dataset (art. 34); required for those datasets. The firm
    #: accepts it itself: ``POST /v1/grants/{id}/commitment``.
    commitment_required: bool = False
    #: Small-cell threshold; the grade's default applies when higher (10 general, 20 important).
    min_cell: int | None = Field(default=None, ge=1, le=10_000)
    #: Smallest k an extract must reach; the grade's default applies when higher (5 / 10).
    extract_k: int | None = Field(default=None, ge=2, le=10_000)
    #: Extracts may keep direct identifiers as keyed pseudonyms (linkable records).
    allow_linkage: bool = False
    #: Jail limits for custom jobs (wall_s, cpu_s, memory_bytes, ...); omitted keys take defaults.
    limits: dict[str, int] = Field(default_factory=dict)

    @field_validator("expires_at")
    @classmethod
    def _in_utc(cls, value: dt.datetime) -> dt.datetime:
        try:
            return value.astimezone(dt.UTC)
        except OverflowError as err:
            raise ValueError("expires_at lies outside the years a date can hold") from err


class GrantAction(_In):
    reason: str = Field(min_length=MIN_REASON_LENGTH, max_length=2000)


class DatasetWithdraw(_In):
    """Why a dataset is withdrawn (audited; its grantees see it on their ended grants)."""

    reason: str = Field(min_length=MIN_REASON_LENGTH, max_length=2000)


class HierarchyPut(_In):
    """A steward's generalization hierarchy of one column, in ARX's CSV format.

    One line per value of the column: ``value;level1;level2;…;*`` (``;``-separated,
    no header, every line the same number of levels, the last one ``*``, levels
    nesting). Every value of the column in the dataset needs a line.
    """

    csv: str = Field(min_length=1, max_length=MAX_HIERARCHY_CHARS)
    #: How extract specs name it (``{"kind": "named", "name": ...}``); default: the
    #: column's name, or the name of the hierarchy it replaces.
    name: str | None = Field(default=None, min_length=1, max_length=64)


class HierarchyPublic(BaseModel):
    """A hierarchy stored with a dataset, as the caller may see it (never its lines).

    The lines themselves are downloaded by the owning bureau's stewards only
    (``GET /v1/datasets/{name}/hierarchies/{column}``).
    """

    column: str
    #: The name an extract spec gives it: ``{"kind": "named", "name": ...}``.
    name: str
    #: Its height: the generalizing levels are 1 to ``levels - 1``, ``levels`` is ``*``.
    levels: int
    #: Lines of the table (the column's declared domain): its bureau and auditors only.
    lines: int | None
    created_at: dt.datetime


class DatasetBudgetPublic(BaseModel):
    """A grant's budget on one dataset in the current period: its own spend and the firm's."""

    dataset: str
    period: int
    period_started_at: dt.datetime | None
    epsilon_spent: float
    delta_spent: float
    #: What the firm's jobs under all its grants spent on the dataset: what counts.
    firm_epsilon_spent: float
    firm_delta_spent: float
    epsilon_left: float
    delta_left: float

    @classmethod
    def of(cls, b: DatasetBudget) -> DatasetBudgetPublic:
        return cls(
            dataset=b.dataset,
            period=b.period,
            period_started_at=b.period_started_at,
            epsilon_spent=b.grant_spent.epsilon,
            delta_spent=b.grant_spent.delta,
            firm_epsilon_spent=b.firm_spent.epsilon,
            firm_delta_spent=b.firm_spent.delta,
            epsilon_left=b.left.epsilon,
            delta_left=b.left.delta,
        )


class BudgetPeriodCreate(_In):
    """A new budget period for a firm on a dataset: its earlier charges stop counting."""

    org_id: int = Field(ge=1, le=2**31 - 1)
    dataset: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=MIN_REASON_LENGTH, max_length=2000)


class BudgetPeriodPublic(BaseModel):
    org_id: int
    dataset: str
    period: int
    period_started_at: dt.datetime | None
    reason: str


class GrantPublic(BaseModel):
    id: int
    org_id: int
    org_name: str
    datasets: list[str]
    purpose: str
    kinds: list[str]
    state: str
    state_reason: str
    min_cell: int | None
    extract_k: int | None
    allow_linkage: bool
    limits: dict[str, Any]
    epsilon_total: float
    epsilon_spent: float
    epsilon_left: float
    delta_total: float
    delta_spent: float
    delta_left: float
    #: Per dataset: this grant's spend, the firm's under all its grants, what is left.
    budgets: list[DatasetBudgetPublic]
    expires_at: dt.datetime
    created_at: dt.datetime
    #: Whether the firm must accept the data-use commitment (art. 34), whether it did,
    #: who (user id) and when; the text it accepts (Chinese, then English).
    commitment_required: bool = False
    commitment_accepted: bool = False
    commitment_accepted_by: int | None = None
    commitment_accepted_at: dt.datetime | None = None
    commitment_text: str = ""

    @classmethod
    def of(cls, g: Grant, budgets: list[DatasetBudget]) -> GrantPublic:
        """``epsilon_spent``: the grant's own jobs on its most-used dataset;
        ``epsilon_left``: what it may still take where the firm spent most."""
        total = PrivacyBudget.from_units(g.epsilon_total, g.delta_total)
        spent, left = summary(budgets, g)
        return cls(
            id=g.id,
            org_id=g.org_id,
            org_name=g.org.name,
            datasets=[d.name for d in g.datasets],
            purpose=g.purpose,
            kinds=list(g.kinds),
            state=g.state,
            state_reason=g.state_reason,
            min_cell=g.min_cell,
            extract_k=g.extract_k,
            allow_linkage=g.allow_linkage,
            limits=dict(g.limits or {}),
            epsilon_total=total.epsilon,
            epsilon_spent=spent.epsilon,
            epsilon_left=left.epsilon,
            delta_total=total.delta,
            delta_spent=spent.delta,
            delta_left=left.delta,
            budgets=[DatasetBudgetPublic.of(b) for b in budgets],
            expires_at=g.expires_at,
            created_at=g.created_at,
            commitment_required=g.commitment_required,
            commitment_accepted=g.commitment_accepted,
            commitment_accepted_by=g.commitment_accepted_by,
            commitment_accepted_at=g.commitment_accepted_at,
            commitment_text=(
                commitment_text(g.purpose) if g.commitment_required or g.commitment_accepted else ""
            ),
        )


class JobCreate(_In):
    grant_id: Id
    spec: dict[str, Any]
    purpose: str = Field(default="", max_length=2000)


class DecisionPublic(BaseModel):
    """The review decision that closed a job (:func:`policies.views.shows_decision`)."""

    #: ``approve`` (released), ``reject`` or ``return`` (for changes: change the job and
    #: submit it again).
    state: Decision
    #: The steward's own reason (an approval's override reason after it).
    reason: str
    #: The deciding steward's organisation (the data bureau); never the steward's name.
    organisation: str
    decided_at: dt.datetime

    @classmethod
    def of(cls, d: Decided) -> DecisionPublic:
        return cls(
            state=d.decision, reason=d.reason, organisation=d.organisation, decided_at=d.decided_at
        )


class JobEstimate(JobCreate):
    """An estimate's request: a job as submitted, and the rows the operator expects per group."""

    #: Rows per group for means, variances, quantiles and small-cell warnings;
    #: ``null``: the steward's group-size band, or the kind's default.
    expected_group_size: int | None = Field(default=None, ge=1, le=MAX_GROUP_SIZE)


class JobPublic(BaseModel):
    """A job; the run report (exact, not DP) is shown to stewards and auditors only."""

    id: int
    grant_id: int
    org_id: int
    kind: str
    status: str
    spec: dict[str, Any]
    purpose: str
    epsilon: float
    delta: float
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    report: dict[str, Any] | None = None
    #: The review decision that closed the job (released, rejected, returned); else null.
    decision: DecisionPublic | None = None

    @classmethod
    def of(cls, j: Job, *, with_report: bool, decided: Decided | None = None) -> JobPublic:
        """The job as a steward or auditor (``with_report``) or an operator sees it.

        An operator sees a custom job as awaiting review from submission to decision,
        without run times: its code could otherwise signal data through its duration.
        """
        cost = PrivacyBudget.from_units(j.epsilon, j.delta)
        view = view_of(Role.OPERATOR, j.kind)
        timed = with_report or view.timing
        status = j.status if with_report else view.status(JobStatus(j.status)).value
        return cls(
            id=j.id,
            grant_id=j.grant_id,
            org_id=j.org_id,
            kind=j.kind,
            status=status,
            spec=j.spec,
            purpose=j.purpose,
            epsilon=cost.epsilon,
            delta=cost.delta,
            error=j.error,
            created_at=j.created_at,
            started_at=j.started_at if timed else None,
            finished_at=j.finished_at if timed else None,
            report=j.report if with_report else None,
            decision=None if decided is None else DecisionPublic.of(decided),
        )


class ReviewCreate(_In):
    #: ``approve``, ``reject``, or ``return`` for changes (closes the job without release;
    #: the operator reads the reason).
    decision: Decision
    #: Shown to the operator with the decision; at least 2 characters ("同意" will do).
    reason: str = Field(min_length=MIN_REASON_LENGTH, max_length=4000)
    #: Why failing automatic checks may be overridden (approvals only; audited).
    override_reason: str = Field(default="", max_length=4000)


class ReleasePublic(BaseModel):
    job_id: int
    manifest: dict[str, Any]
    signature: str
    algorithm: Literal["ed25519"] = "ed25519"


class AuditEntryPublic(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str
    #: Detail fields left out for this reader: exact facts (art. 63; see sandbox.web.audit_view).
    redacted: list[str] = []


class AuditVerifyPublic(BaseModel):
    ok: bool
    entries: int
    broken_at: int | None
    reason: str
    head: str
    #: Sequence number of the head.
    head_seq: int = 0
    #: Entries 1..unmaced carry no MAC checkable under the current key.
    unmaced: int = 0
    #: Of those, entries written before MACs.
    legacy: int = 0
    #: Releases whose manifest, signature and chain head were checked.
    releases: int = 0
    #: What could not be checked ("" if nothing).
    note: str = ""
