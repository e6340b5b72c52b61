"""Tables of the metadata store.

Budgets are kept as integers (see :mod:`policies.budget`). Timestamps are
timezone-aware UTC in Python; the database column type keeps them portable
between SQLite and PostgreSQL.

The module is long because every table of the store is declared here, each column
documented, so the schema the migrations build reads in one place.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from policies.airlock import Decision, JobStatus
from policies.catalog import ColumnTag, Grade, OpenAttribute
from policies.grants import GrantState
from policies.roles import OrgKind, Role

E = TypeVar("E", bound=StrEnum)


def utcnow() -> dt.datetime:
    """Now, in UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores UTC; returns timezone-aware datetimes on every database (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class StrEnumColumn(TypeDecorator[E]):
    """A :class:`~enum.StrEnum` stored as its value in a ``VARCHAR(length)``.

    The schema and the stored strings are those of a plain ``String(length)``
    column (the migrations' and older rows'); Python reads the enum member. A
    bound string is checked against the enum, so a typo fails at the store,
    not in a later comparison.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum
        self.length = length

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)

    def copy(self, **kw: Any) -> StrEnumColumn[E]:
        return StrEnumColumn(self.enum, self.length)

    @property
    def python_type(self) -> type[E]:
        return self.enum


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrgKind] = mapped_column(StrEnumColumn(OrgKind, 20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[Role] = mapped_column(StrEnumColumn(Role, 20))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    org: Mapped[Organisation] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored (tokens carry 256 random bits)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(lazy="joined")


class ConsoleSession(Base):
    """A signed-in console browser; shared by every API process (one database).

    Only the SHA-256 of the session id is stored (the cookie carries the id);
    the API token it was exchanged for is named by its row, so revoking the
    token or deactivating the user ends the session on every process.
    """

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class SignInFailure(Base):
    """One failed (or still open) sign-in try from an address, within the throttle's window."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The client address as the service sees it (no token, no user name).
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text)  # provenance (art. 63)
    open_attribute: Mapped[OpenAttribute] = mapped_column(StrEnumColumn(OpenAttribute, 20))
    grade: Mapped[Grade] = mapped_column(StrEnumColumn(Grade, 20))
    path: Mapped[str] = mapped_column(Text)
    #: Plain SHA-256 of the stored files: stewards and auditors only (see sandbox.catalog.facts).
    sha256: Mapped[str] = mapped_column(String(64))
    #: Exact rows: stewards and auditors only.
    row_count: Mapped[int] = mapped_column(BigInteger)
    #: Noisy, rounded row count drawn once at ingest: what operators see.
    public_row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    partitions: Mapped[int] = mapped_column(Integer, default=1)
    #: Column identifying a person; None: one row per person.
    privacy_unit: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Rows whose privacy unit is null, NaN or blank: no known person's, dropped from every job.
    #: Admins, stewards and auditors see it; operators never do (it is a count of the data).
    #: None: not counted (ingested before the count existed, migration 0004).
    null_unit_rows: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: Declared public group-key domains, column -> values.
    public_keys: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The steward's declared expected group sizes for estimates, column -> band
    #: (see :mod:`policies.catalog`); ``{}``: none declared (migration 0009).
    group_size_bands: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The bureau that owns the dataset (the ingesting steward's organisation, art. 63).
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: When a steward withdrew the dataset (files deleted, grants terminated); a tombstone.
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")

    columns: Mapped[list[DatasetColumn]] = relationship(
        order_by="DatasetColumn.position", lazy="selectin", cascade="all, delete-orphan"
    )
    #: The steward's generalization hierarchies for extracts (migration 0010).
    hierarchies: Mapped[list[DatasetHierarchy]] = relationship(
        order_by="DatasetHierarchy.column", cascade="all, delete-orphan"
    )


class DatasetColumn(Base):
    __tablename__ = "dataset_columns"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    dtype: Mapped[str] = mapped_column(String(40))
    tag: Mapped[ColumnTag] = mapped_column(StrEnumColumn(ColumnTag, 20))
    #: Whether the column holds nulls (schema metadata; a mean of a null-free column is cheaper).
    nullable: Mapped[bool] = mapped_column(default=True)
    #: steward (declared), proposal (taken from the detectors) or override (less protective).
    tag_source: Mapped[str] = mapped_column(String(20), default="steward")
    proposed_tag: Mapped[str] = mapped_column(String(20), default="")
    #: Why the detectors proposed their tag: counts and entity names, no values.
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DatasetHierarchy(Base):
    """A steward's generalization hierarchy of one column, in ARX's CSV format (migration 0010).

    One per column, named (an extract spec names it as ``{"kind": "named", "name": ...}``);
    an extract that names none for the column uses it. Its lines are the column's values
    and their generalizations: stewards read them, operators see ``levels`` only.
    """

    __tablename__ = "dataset_hierarchies"
    __table_args__ = (
        UniqueConstraint("dataset_id", "column"),
        UniqueConstraint("dataset_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    column: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    #: The table in ARX's format (``value;level1;…;*`` per line), as validated and normalized.
    csv: Mapped[str] = mapped_column(Text)
    #: The hierarchy's height (its top level is ``*``).
    levels: Mapped[int] = mapped_column(Integer)
    #: Lines of the table (values the steward declared, not a count of the data).
    lines: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


grant_datasets = Table(
    "grant_datasets",
    Base.metadata,
    Column("grant_id", ForeignKey("grants.id"), primary_key=True),
    Column("dataset_id", ForeignKey("datasets.id"), primary_key=True),
)


class Grant(Base):
    """Authorization of an operator org (art. 35) with its ledger.

    ``epsilon_spent`` counts every reservation, settled or not: a job's ε is
    charged when it is submitted and never handed back. It records the most
    this grant's own jobs composed to on one dataset within a budget period;
    what the grant may still spend depends on its firm's charges under all its
    grants (:mod:`sandbox.access.ledger`), which the views compute from the ledger.
    """

    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    #: Whether the operator firm must accept the conditional dataset's commitment (art. 34)
    #: before it may submit; the steward sets it, the firm accepts (migration 0009).
    commitment_required: Mapped[bool] = mapped_column(default=False)
    #: True once the commitment is accepted (by the firm itself since migration 0009).
    commitment_accepted: Mapped[bool] = mapped_column(default=False)
    #: The operator of the firm who accepted the commitment, and when (audited).
    commitment_accepted_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_grants_commitment_accepted_by"), default=None
    )
    commitment_accepted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    kinds: Mapped[list[Any]] = mapped_column()
    epsilon_total: Mapped[int] = mapped_column(BigInteger)
    delta_total: Mapped[int] = mapped_column(BigInteger)
    epsilon_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    delta_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[dt.datetime] = mapped_column()
    #: Small-cell threshold of this grant; never below the grade's default (art. 62).
    min_cell: Mapped[int | None] = mapped_column(Integer, default=None)
    #: Smallest k an extract under this grant must reach; never below the grade's default.
    extract_k: Mapped[int | None] = mapped_column(Integer, default=None)
    #: Whether extracts may keep direct identifiers as keyed pseudonyms (linkable records).
    allow_linkage: Mapped[bool] = mapped_column(default=False)
    #: Jail limits for custom jobs (see the jail's Limits); missing keys take defaults.
    limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[GrantState] = mapped_column(
        StrEnumColumn(GrantState, 20), default=GrantState.ACTIVE
    )
    state_reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    org: Mapped[Organisation] = relationship(lazy="joined")
    datasets: Mapped[list[Dataset]] = relationship(secondary=grant_datasets, lazy="selectin")


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    spec: Mapped[dict[str, Any]] = mapped_column()
    #: SHA-256 of the spec's canonical JSON: an identical query returns the cached answer.
    spec_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    purpose: Mapped[str] = mapped_column(Text, default="")
    #: Written by :func:`sandbox.jobs.lifecycle.transition` only (rule, timestamps, audit).
    status: Mapped[JobStatus] = mapped_column(
        StrEnumColumn(JobStatus, 20), default=JobStatus.QUEUED, index=True
    )
    epsilon: Mapped[int] = mapped_column(BigInteger)
    delta: Mapped[int] = mapped_column(BigInteger)
    #: Safe to show the operator.
    error: Mapped[str] = mapped_column(Text, default="")
    output_path: Mapped[str] = mapped_column(Text, default="")
    output_sha256: Mapped[str] = mapped_column(String(64), default="")
    #: Run facts (rows, suppressed cells) and automatic check verdicts.
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: Runs started so far (a lost lease hands the job back; the next run is attempt + 1).
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    #: The worker holding the job while it runs (None: nobody); see :mod:`sandbox.jobs.queue`.
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    #: When the lease ends unless renewed; an expired lease puts the job back in the queue.
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None, index=True)
    #: Fixes the noise of a test's job (tests only; never set through the API).
    seed: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: When retention deleted a rejected, returned or failed job's output (audited).
    output_deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    grant: Mapped[Grant] = relationship(lazy="joined")

    @property
    def parsed_spec(self) -> Any:
        """The stored spec, parsed (its defaults filled in by the spec model, not by hand)."""
        from jobs.kinds import parse_job_spec

        return parse_job_spec(self.spec)

    @property
    def dataset_names(self) -> list[str]:
        """The datasets the job reads; see :func:`spec_datasets`."""
        return spec_datasets(self.spec)


def spec_datasets(spec: dict[str, Any]) -> list[str]:
    """The datasets a stored job spec reads, as its kind's spec model says.

    A spec stored before its kind's model changed (or by hand, in a test) may no
    longer parse; listing it must not fail, so its own dataset fields are read then.
    """
    from jobs.kinds import parse_job_spec
    from policies.errors import SandboxError

    try:
        return [str(n) for n in parse_job_spec(spec).datasets]
    except SandboxError:
        names = spec.get("datasets") or [spec.get("dataset")]
        return [str(n) for n in names if n is not None]


class LedgerEntry(Base):
    """One job's privacy charge under one grant on one dataset (the ledger's source of truth).

    The parts are kept separately so that the accountant can compose them
    tightly (zCDP for Gaussian noise) instead of summing each job's (ε, δ).
    """

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), default=None)
    #: The firm × dataset budget period the charge counts in (:class:`FirmBudget`).
    period: Mapped[int] = mapped_column(Integer, default=1)
    epsilon: Mapped[float] = mapped_column(Float)  # pure ε part
    rho: Mapped[float] = mapped_column(Float)  # zCDP part
    delta: Mapped[float] = mapped_column(Float)  # approximate parts
    conversion_delta: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FirmBudget(Base):
    """An operator firm's budget on one dataset, across all its grants.

    Every charge of the firm's jobs on the dataset counts against each of its
    grants there (a grant caps how much of the firm's spend it may take), so a
    second grant brings no fresh budget. The row is what concurrent
    reservations lock (``SELECT ... FOR UPDATE``); ``period`` changes only
    when a steward starts a new budget period, with an audited reason.
    """

    __tablename__ = "firm_budgets"
    __table_args__ = (UniqueConstraint("org_id", "dataset_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    #: Charges of earlier periods no longer count; identical queries stay cached across periods.
    period: Mapped[int] = mapped_column(Integer, default=1)
    period_started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    period_started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    period_reason: Mapped[str] = mapped_column(Text, default="")


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[Decision] = mapped_column(StrEnumColumn(Decision, 10))
    reason: Mapped[str] = mapped_column(Text)
    #: Names of failing automatic checks this approval overrode (the reason says why).
    overrides: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Release(Base):
    """A released product: the manifest and its signature."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), unique=True)
    manifest: Mapped[dict[str, Any]] = mapped_column()
    signature: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One link of the hash chain; ``hash`` covers every other field and ``prev_hash``."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))  # ISO 8601 text: hashed as stored
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: HMAC-SHA256 of ``seq`` and ``hash`` under a key outside the database (see
    #: :func:`sandbox.audit.chain.mac_key`); null on entries written before revision 0007.
    mac: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Which key made ``mac`` (a fingerprint, not the key): tells a retired key from a forgery.
    mac_key: Mapped[str | None] = mapped_column(String(16), default=None)
