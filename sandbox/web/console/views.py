"""What the queue and output pages show, assembled from the store (no HTTP here).

The module is long because an output page gathers many parts for the steward (the spec in
plain words, datasets and budget, checks, a preview, error bars, an extract's risk report,
what ε means, release history and the differencing flag, decisions); the rendering pieces
live in :mod:`~sandbox.web.console.preview`, :mod:`~sandbox.web.console.plots` and
:mod:`~sandbox.web.console.profile`.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.kinds import KINDS, JobKind, OutputShape
from jobs.kinds.base import Phrase
from policies.airlock import Decision, JobStatus, approvals_required_for
from policies.budget import PrivacyBudget
from policies.catalog import Grade, Product
from policies.errors import NotFound, PolicyViolation
from sandbox.access import ledger
from sandbox.airlock.releases import local_output
from sandbox.airlock.review import REVIEWERS_ONLY, for_non_reviewers, job_datasets
from sandbox.checks import blocking
from sandbox.jobs.history import HistoryEntry, release_history
from sandbox.store.models import Dataset, Job, Organisation, Review, User
from sandbox.web.console import plots, preview
from sandbox.web.console.i18n import N_, gettext

#: Jobs one queue page lists.
QUEUE_LIMIT = 500
#: Facts of a custom job's run a reviewer reads (from :mod:`jobs.kinds.custom.engine`'s report).
RUN_FACTS = ("succeeded", "exit_code", "killed_by", "wall_s", "cpu_s", "peak_processes")
#: :data:`sandbox.airlock.review.REVIEWERS_ONLY`, marked here for the catalog.
N_("shown to the reviewing stewards only")
#: Characters shown of each stream's tail.
MAX_STREAM = 8000
#: Queue rows awaiting review whose release history is compared (differencing flag); the
#: comparison reads the dataset, so a long queue compares its newest rows only.
MAX_DIFFERENCING_ROWS = 100
#: Products released with differential privacy (:class:`policies.catalog.Product`): their
#: pages say what their ε means.
DP_PRODUCTS = frozenset({Product.STATISTICS, Product.MODEL})


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One output in the queue."""

    job: Job
    org: str
    #: (name, grade) of each dataset the job reads (grade "?" for one no longer listed).
    datasets: list[tuple[str, str]]
    epsilon: float
    checks: dict[str, int]
    approvals: int
    required: int | None
    #: The kind releases what operator code wrote (the queue tags it "not DP").
    not_dp: bool = False
    #: Earlier releases it differs from by fewer people than the grant's threshold.
    differencing: bool = False


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """A decision recorded on the job."""

    reviewer: str
    decision: str
    reason: str
    overrides: list[str]
    at: Any
    reviewer_id: int | None = None


@dataclass(frozen=True, slots=True)
class EpsilonMeaning:
    """What a DP job's ε means, for one plain sentence (numbers rounded for display)."""

    epsilon: float
    delta: float
    #: e^ε written for display (grouped, a few significant digits).
    factor: str


def epsilon_meaning(epsilon: float, delta: float) -> EpsilonMeaning:
    """The bound on how much one person changes the odds of any released result: e^ε.

    Dwork & Roth 2014, def. 2.4: for neighbouring inputs, Pr[M(x) ∈ S] ≤ e^ε Pr[M(y) ∈ S] + δ.

    >>> epsilon_meaning(1.0, 0.0).factor, epsilon_meaning(0.1, 0).factor
    ('2.72', '1.11')
    >>> epsilon_meaning(20.0, 0.0).factor
    '485,165,195'
    """
    factor = math.exp(min(epsilon, 700.0))
    text = f"{factor:,.0f}" if factor >= 1000 else f"{factor:.3g}"
    return EpsilonMeaning(epsilon, delta, text)


def differencing_with(session: Session, job: Job) -> list[int]:
    """Earlier releases ``job`` differs from by fewer people than its grant's threshold."""
    return [
        h.job_id
        for h in release_history(session, job)
        if h.difference is not None and h.difference.flagged
    ]


def _required(grades: list[str]) -> int | None:
    try:
        return approvals_required_for(Grade(g) for g in grades)
    except PolicyViolation:
        return None


def queue(
    session: Session,
    status: str,
    org_id: int | None,
    dataset: str,
    kind: str,
) -> list[QueueRow]:
    """Jobs in ``status`` (all when empty), filtered by organisation, dataset and kind."""
    stmt = select(Job).order_by(Job.id.desc()).limit(QUEUE_LIMIT)
    if status:
        stmt = stmt.where(Job.status == status)
    if org_id is not None:
        stmt = stmt.where(Job.org_id == org_id)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    jobs = [j for j in session.scalars(stmt) if not dataset or dataset in job_datasets(j.spec)]
    grades = {n: g for n, g in session.execute(select(Dataset.name, Dataset.grade))}
    approvals: dict[int, set[int]] = {}
    if jobs:
        for job_id, reviewer in session.execute(
            select(Review.job_id, Review.reviewer_id).where(
                Review.job_id.in_([j.id for j in jobs]),
                Review.decision == Decision.APPROVE.value,
            )
        ):
            approvals.setdefault(job_id, set()).add(reviewer)
    # jobs come newest first: the newest awaiting review are compared
    compared = {j.id for j in jobs if j.status == JobStatus.AWAITING_REVIEW.value}
    compared = set(sorted(compared, reverse=True)[:MAX_DIFFERENCING_ROWS])
    rows = []
    for j in jobs:
        names = job_datasets(j.spec)
        verdicts = [c.get("verdict", "") for c in j.report.get("checks", [])]
        rows.append(
            QueueRow(
                job=j,
                org=j.grant.org.name,
                datasets=[(n, grades.get(n, "?")) for n in names],
                epsilon=PrivacyBudget.from_units(j.epsilon, 0).epsilon,
                checks={v: verdicts.count(v) for v in ("pass", "warn", "fail")},
                approvals=len(approvals.get(j.id, set())),
                required=_required([grades.get(n, "core") for n in names]),
                not_dp=not_dp(j.kind),
                differencing=j.id in compared and bool(differencing_with(session, j)),
            )
        )
    return rows


def filter_options(session: Session) -> dict[str, list[Any]]:
    """Choices of the queue's filters."""
    return {
        "orgs": [
            (i, n)
            for i, n in session.execute(
                select(Organisation.id, Organisation.name)
                .where(Organisation.kind == "operator")
                .order_by(Organisation.name)
            )
        ],
        "datasets": list(session.scalars(select(Dataset.name).order_by(Dataset.name))),
        "kinds": list(KINDS.names()),
        "statuses": [s.value for s in JobStatus],
    }


#: The words kinds put in their descriptions as values (an aggregate's operation, its noise),
#: marked here for the catalog.
DESCRIBED_WORDS = (
    N_("count"),
    N_("count_distinct"),
    N_("sum"),
    N_("mean"),
    N_("variance"),
    N_("quantile"),
    N_("median"),
    N_("histogram"),
    N_("laplace"),
    N_("gaussian"),
)


def shown(text: str | Phrase) -> str:
    """A description's text in the reader's language: a :class:`Phrase` translated, its
    values filled in (phrases among them translated too); plain text as it is.

    >>> line = Phrase("%(op)s of %(column)s", {"op": Phrase("mean"), "column": "income"})
    >>> shown(line)  # the console's first language
    'income 的均值'
    >>> from sandbox.web.console import i18n
    >>> token = i18n.use("en")
    >>> shown(line)
    'mean of income'
    >>> i18n.reset(token)
    """
    if not isinstance(text, Phrase):
        return text
    message = gettext(text.message)
    if not text.values:
        return message
    return message % {k: shown(v) if isinstance(v, Phrase) else v for k, v in text.values.items()}


def describe_spec(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The job spec as labelled lines a reviewer reads at a glance.

    Every spec shows its kind and datasets; the kind adds its own lines
    (:meth:`jobs.kinds.base.JobKind.describe`). A kind no longer registered, or
    a stored spec its model no longer reads, shows the common lines only.
    """
    lines: list[tuple[str, str]] = [(gettext("kind"), str(spec.get("kind", "?")))]
    names = spec.get("datasets") or [spec.get("dataset")]
    lines.append((gettext("datasets"), ", ".join(str(n) for n in names)))
    kind = _kind(spec.get("kind"))
    if kind is None:
        return lines
    try:
        parsed = kind.spec_type.model_validate(spec)
    except ValidationError:
        return lines
    return lines + [(label, shown(text)) for label, text in kind.describe(parsed)]


def _kind(name: object) -> JobKind | None:
    """The registered kind called ``name``, if any (stored jobs may predate a kind's removal)."""
    return KINDS[name] if isinstance(name, str) and name in KINDS else None


def not_dp(kind_name: str) -> bool:
    """Whether a kind releases what operator code wrote, with no guarantee by construction."""
    kind = _kind(kind_name)
    return kind is not None and kind.product is Product.PROGRAM_OUTPUT


@dataclass(frozen=True, slots=True)
class JobPage:
    """Everything the output page shows."""

    job: Job
    org: str
    spec_lines: list[tuple[str, str]]
    spec_shown: dict[str, Any]
    code: list[preview.Member]
    datasets: list[Dataset]
    grant: dict[str, Any]
    checks: list[dict[str, Any]]
    failing: list[str]
    reviews: list[ReviewRow]
    approvals: int
    required: int | None
    table: preview.Table | None
    members: list[preview.Member]
    panels: list[plots.Panel]
    streams: list[tuple[str, str]]
    run_facts: dict[str, Any]
    history: list[HistoryEntry]
    file_note: str
    #: Said plainly above an output with images: no check reads them, a person must.
    image_note: str = ""
    #: Whether the viewer reads the run's exact facts (checks, run facts): auditors and the
    #: stewards of the bureau holding the data (art. 63).
    exact: bool = True
    #: The kind releases what operator code wrote: not differentially private.
    not_dp: bool = False
    #: What the job's ε means (DP products only).
    dp: EpsilonMeaning | None = None
    #: An extract's risk report (k, l, suppression, levels, loss, smallest classes), exact only.
    risk: dict[str, Any] | None = None
    #: Earlier releases this output differs from by fewer people than the threshold.
    differencing: tuple[int, ...] = ()
    #: The viewer already approved (a second, different steward must now decide).
    approved_by_viewer: bool = False
    #: The decision that returned the job for changes, if it was returned.
    returned: ReviewRow | None = None


def job_page(
    session: Session,
    job: Job,
    reviewer: bool,
    *,
    exact: bool = True,
    viewer_id: int | None = None,
    cache: Path = Path(".sandbox/cache"),
) -> JobPage:
    """The output page of ``job``; its output and run logs only for a ``reviewer`` (a steward:
    an auditor may no more read an output here than download it); its checks and run facts
    only where ``exact`` (not for a steward of another bureau). ``viewer_id``: the signed-in
    user, to tell them they already approved. ``cache``: where outputs in object storage
    are copied to be shown."""
    datasets = list(
        session.scalars(select(Dataset).where(Dataset.name.in_(job_datasets(job.spec))))
    )
    grant = job.grant
    total = PrivacyBudget.from_units(grant.epsilon_total, grant.delta_total)
    # the firm's spend on the job's datasets under all its grants is what counts
    names = set(job_datasets(job.spec))
    budgets = [b for b in ledger.grant_budgets(session, grant) if b.dataset in names]
    spent, left = ledger.summary(budgets, grant)
    firm = PrivacyBudget(
        max((b.firm_spent.epsilon for b in budgets), default=0.0),
        max((b.firm_spent.delta for b in budgets), default=0.0),
    )
    cost = PrivacyBudget.from_units(job.epsilon, job.delta)
    decided = list(
        session.scalars(select(Review).where(Review.job_id == job.id).order_by(Review.id))
    )
    users = {
        i: n
        for i, n in session.execute(
            select(User.id, User.name).where(User.id.in_([r.reviewer_id for r in decided]))
        )
    }
    reviews = [
        ReviewRow(
            users.get(r.reviewer_id, "?"),
            r.decision,
            r.reason,
            list(r.overrides),
            r.created_at,
            r.reviewer_id,
        )
        for r in decided
    ]
    approved = {r.reviewer_id for r in reviews if r.decision == Decision.APPROVE.value}
    returns = [r for r in reviews if r.decision == Decision.RETURN.value]
    history = release_history(session, job)
    kind = _kind(job.kind)
    report = job.report if reviewer else for_non_reviewers(job.report, job.kind)
    if not exact:
        report = {}
    checks = list(report.get("checks", []))
    if reviewer:
        table, members, panels, note = _preview(job, cache)
    else:
        table, members, panels = None, [], []
        note = gettext("outputs and run logs are shown to the reviewing stewards only")
    return JobPage(
        job=job,
        org=grant.org.name,
        spec_lines=describe_spec(job.spec),
        spec_shown=shown_spec(job.spec),
        code=code_files(job.spec),
        datasets=datasets,
        grant={
            "id": grant.id,
            "state": grant.state,
            "purpose": grant.purpose,
            "epsilon_total": total.epsilon,
            "epsilon_spent": spent.epsilon,
            "epsilon_left": left.epsilon,
            "firm_epsilon_spent": firm.epsilon,
            "delta_total": total.delta,
            "delta_spent": spent.delta,
            "delta_left": left.delta,
            "firm_delta_spent": firm.delta,
            "job_epsilon": cost.epsilon,
            "job_delta": cost.delta,
            "min_cell": grant.min_cell,
        },
        checks=checks,
        failing=blocking(checks),
        reviews=reviews,
        approvals=len(approved),
        required=_required([d.grade for d in datasets] or ["core"]),
        table=table,
        members=members,
        panels=panels,
        streams=streams(report),
        run_facts=run_facts(report),
        history=history,
        file_note=note,
        image_note=str(_run_report(report).get("image_note") or "") if reviewer else "",
        exact=exact,
        not_dp=not_dp(job.kind),
        dp=(
            epsilon_meaning(cost.epsilon, cost.delta)
            if kind is not None and kind.product in DP_PRODUCTS
            else None
        ),
        risk=risk_report(report) if kind is not None and kind.product is Product.RECORDS else None,
        differencing=tuple(
            h.job_id for h in history if h.difference is not None and h.difference.flagged
        ),
        approved_by_viewer=viewer_id is not None and viewer_id in approved,
        returned=returns[-1] if job.status == JobStatus.RETURNED.value and returns else None,
    )


def risk_report(report: dict[str, Any]) -> dict[str, Any] | None:
    """An extract's risk report as the page shows it: counts, levels and sizes, no values.

    None when the run left no report (the job has not finished, or the viewer is a
    steward of another bureau and reads no exact facts).
    """
    if "k_achieved" not in report:
        return None
    loss = report.get("information_loss")
    levels = report.get("generalization")
    return {
        "k_achieved": report.get("k_achieved"),
        "k_target": report.get("k_target"),
        "l_achieved": report.get("l_achieved"),
        "l_target": report.get("l_target"),
        "sensitive": report.get("sensitive_column"),
        "records_in": report.get("records_in"),
        "records_out": report.get("records_out"),
        "records_suppressed": report.get("records_suppressed"),
        "suppression_limit_records": report.get("suppression_limit_records"),
        "loss": loss.get("value") if isinstance(loss, dict) else None,
        "loss_metric": loss.get("metric", "") if isinstance(loss, dict) else "",
        "levels": [
            (column, entry.get("level"), entry.get("height"), entry.get("hierarchy", ""))
            for column, entry in (levels.items() if isinstance(levels, dict) else [])
            if isinstance(entry, dict)
        ],
        "smallest_classes": [n for n in report.get("smallest_classes") or [] if isinstance(n, int)],
    }


def shown_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec without the custom code, which :func:`code_files` shows file by file."""
    return {k: v for k, v in spec.items() if k not in ("source", "archive")}


def code_files(spec: dict[str, Any]) -> list[preview.Member]:
    """The files of a custom job's code, for the reviewer to read (escaped, size-capped)."""
    if spec.get("source"):
        text = str(spec["source"])
        name = str(spec.get("entrypoint", "main.py"))
        return [preview.Member(0, name, len(text.encode()), "text", text=text[:200_000])]
    if spec.get("archive"):
        try:
            data = base64.b64decode(str(spec["archive"]), validate=True)
            return preview.zip_members(io.BytesIO(data))
        except (binascii.Error, NotFound):
            return [
                preview.Member(0, "archive", 0, "other", note=gettext("not a readable zip archive"))
            ]
    return []


def _run_report(report: dict[str, Any]) -> dict[str, Any]:
    """The custom run's report: the job report itself, or one level down in it."""
    if "stdout" in report or "stdout_tail" in report:
        return report
    nested = [v for v in report.values() if isinstance(v, dict) and "stdout" in v]
    return nested[0] if nested else {}


def streams(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The tails of a custom job's stdout and stderr, for the reviewer only."""
    run = _run_report(report)
    found = []
    for name in ("stdout", "stderr"):
        value = run.get(name, run.get(f"{name}_tail"))
        text = value.get("tail", "") if isinstance(value, dict) else value
        if text:
            found.append((name, str(text)[-MAX_STREAM:]))
    return found


def run_facts(report: dict[str, Any]) -> dict[str, Any]:
    """Exit status, time used and the files the jail refused, of a custom job's run."""
    run = _run_report(report)
    facts: dict[str, Any] = {k: run[k] for k in RUN_FACTS if k in run}
    files = run.get("files")
    if isinstance(files, list) and any(isinstance(f, dict) and "code_name" in f for f in files):
        # The code chose these names (they could spell data): the reviewer reads them as data.
        facts[gettext("released as (the code's names)")] = "; ".join(
            f"{f.get('name', '?')} ← {f.get('code_name', '?')}" for f in files
        )
    refused = run.get("rejected")
    if isinstance(refused, list) and refused:
        facts[gettext("refused files")] = "; ".join(
            f"{r.get('name', '?')}: {r.get('reason', '')}" for r in refused
        )
    elif isinstance(refused, int) and refused:  # names for the reviewing stewards only
        facts[gettext("refused files")] = f"{refused} ({gettext(REVIEWERS_ONLY)})"
    return facts


def _preview(
    job: Job, cache: Path
) -> tuple[preview.Table | None, list[preview.Member], list[plots.Panel], str]:
    if not job.output_path:
        return None, [], [], gettext("this job has no output")
    path = local_output(cache, job.output_path, job.output_sha256)
    if path is None:
        return None, [], [], gettext("the output file is no longer kept")
    suffix = path.suffix.lower()
    kind = _kind(job.kind)
    statistics = kind is not None and kind.product is Product.STATISTICS
    if suffix == ".parquet" and statistics:  # small: the size check caps it
        frame = preview.read_table(path)
        if frame is None:
            return None, [], [], gettext("the output is not a readable table")
        panels = plots.error_bars(frame, list(job.spec.get("group_by") or []))
        return preview.frame_table(frame), [], panels, ""
    if suffix == ".parquet":
        try:
            return preview.parquet_table(path), [], [], ""
        except preview.TooLarge as err:
            return None, [], [], str(err)
        except (pl.exceptions.PolarsError, OSError):
            return None, [], [], gettext("the output is not a readable table")
    if suffix == ".zip":
        return None, preview.zip_members(path), [], ""
    if kind is not None and kind.shape is OutputShape.MODEL and suffix[1:] in kind.output_formats:
        return None, [preview.model_member(path)], [], ""
    length = path.stat().st_size
    note = gettext("no preview for a %(suffix)s file (%(length)s bytes); check its hash")
    return None, [], [], note % {"suffix": suffix or gettext("plain"), "length": length}
