"""HTTP schemas: what a caller may set (``*Create``) and may see (``*Public``) are separate."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from policies.airlock import Decision, JobStatus, operator_sees_timing, operator_status
from policies.budget import PrivacyBudget
from policies.catalog import ColumnTag, Grade, OpenAttribute
from policies.roles import OrgKind, Role
from sandbox.api.params import Id
from sandbox.store.models import Dataset, Grant, Job


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind


class OrgPublic(BaseModel):
    id: int
    name: str
    kind: OrgKind


class UserCreate(_In):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[\w.@-]+$")
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


class DatasetPublic(BaseModel):
    """Catalog metadata; never a row."""

    name: str
    description: str
    source: str
    open_attribute: OpenAttribute
    grade: Grade
    row_count: int
    partitions: int
    sha256: str
    privacy_unit: str | None
    public_keys: dict[str, list[Any]]
    created_at: dt.datetime
    columns: list[ColumnPublic]

    @classmethod
    def of(cls, d: Dataset, *, with_evidence: bool) -> DatasetPublic:
        return cls(
            name=d.name,
            description=d.description,
            source=d.source,
            open_attribute=OpenAttribute(d.open_attribute),
            grade=Grade(d.grade),
            row_count=d.row_count,
            partitions=d.partitions,
            sha256=d.sha256,
            privacy_unit=d.privacy_unit,
            public_keys=d.public_keys,
            created_at=d.created_at,
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


class GrantCreate(_In):
    org_id: Id
    datasets: list[str] = Field(min_length=1)
    purpose: str = Field(max_length=4000)
    kinds: list[Literal["aggregate", "extract", "train", "custom"]] = Field(min_length=1)
    epsilon: float = Field(gt=0, le=1000)
    delta: float = Field(default=0.0, ge=0, lt=1)
    #: With a time zone (``2026-12-31T23:59:59+08:00``); stored in UTC.
    expires_at: AwareDatetime
    commitment_accepted: bool = False
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
    reason: str = Field(min_length=5, max_length=2000)


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
    expires_at: dt.datetime
    created_at: dt.datetime

    @classmethod
    def of(cls, g: Grant) -> GrantPublic:
        total = PrivacyBudget.from_units(g.epsilon_total, g.delta_total)
        spent = PrivacyBudget.from_units(g.epsilon_spent, g.delta_spent)
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
            epsilon_left=PrivacyBudget.from_units(g.epsilon_total - g.epsilon_spent, 0).epsilon,
            delta_total=total.delta,
            delta_spent=spent.delta,
            expires_at=g.expires_at,
            created_at=g.created_at,
        )


class JobCreate(_In):
    grant_id: Id
    spec: dict[str, Any]
    purpose: str = Field(default="", max_length=2000)


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

    @classmethod
    def of(cls, j: Job, *, with_report: bool) -> JobPublic:
        """The job as a steward or auditor (``with_report``) or an operator sees it.

        An operator sees a custom job as awaiting review from submission to decision,
        without run times: its code could otherwise signal data through its duration.
        """
        cost = PrivacyBudget.from_units(j.epsilon, j.delta)
        timed = with_report or operator_sees_timing(j.kind)
        status = j.status if with_report else operator_status(j.kind, JobStatus(j.status)).value
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
        )


class ReviewCreate(_In):
    decision: Decision
    reason: str = Field(min_length=1, max_length=4000)
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


class AuditVerifyPublic(BaseModel):
    ok: bool
    entries: int
    broken_at: int | None
    reason: str
    head: str
