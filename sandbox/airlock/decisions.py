"""The review decision that closed a job, as the people who may see the job read it.

The operator learns why its output was released, rejected or returned for changes:
the decision, the steward's own reason, the deciding bureau and when
(:func:`policies.views.shows_decision` says which jobs show one). The steward's name
is not part of it (a reviewer is a bureau's, not a person's, answer to the operator).
A re-issued answer (:mod:`sandbox.jobs.answer_cache`) shows the decision that released
the job whose answer it carries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from policies.airlock import Decision, JobStatus
from policies.views import shows_decision
from sandbox.jobs.answer_cache import answer_source
from sandbox.store.models import Job, Organisation, Review, User


@dataclass(frozen=True, slots=True)
class Decided:
    """The decision that closed a job.

    Attributes:
        decision: Approve (released), reject or return (for changes).
        reason: The steward's reason, as written (with an approval's override reason).
        organisation: The name of the deciding steward's organisation (the data bureau).
        decided_at: When (UTC).
    """

    decision: Decision
    reason: str
    organisation: str
    decided_at: dt.datetime


def decisions(session: Session, jobs: Iterable[Job]) -> dict[int, Decided]:
    """The closing decision of each job of ``jobs`` that shows one, by job id (one query).

    A job's closing decision is the last review recorded on it (or on the job whose
    answer it re-issues): reviews end with the one that closed the job.
    """
    sources = {job.id: answer_source(job) for job in jobs if shows_decision(JobStatus(job.status))}
    if not sources:
        return {}
    rows = session.execute(
        select(Review, Organisation.name)
        .join(User, User.id == Review.reviewer_id)
        .join(Organisation, Organisation.id == User.org_id)
        .where(Review.job_id.in_(set(sources.values())))
        .order_by(Review.id)
    )
    last: dict[int, Decided] = {}
    for review, organisation in rows:
        last[review.job_id] = Decided(
            Decision(review.decision), review.reason, organisation, review.created_at
        )
    return {job_id: last[src] for job_id, src in sources.items() if src in last}


def decision_of(session: Session, job: Job) -> Decided | None:
    """The decision that closed ``job``, or None (not decided yet, or failed)."""
    return decisions(session, [job]).get(job.id)
