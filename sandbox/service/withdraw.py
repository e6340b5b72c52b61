"""Withdrawing a dataset: its grants end, its queued jobs fail, its files go (art. 63).

One transaction terminates every grant that includes the dataset (with the
reason, each audited as ``grant.terminated``), fails every queued job that reads
it (``job.fail``), turns the catalog row into a tombstone
(:mod:`sandbox.catalog.withdraw`) and appends ``dataset.withdraw``; the files are
deleted once it commits. Outputs awaiting review are left as they are, but no
steward can approve them afterwards (:func:`sandbox.airlock.review.review`
refuses with a 409); a job running at that moment fails on its missing files or
ends awaiting a review that cannot approve it. Released products stay.

Every row is locked (the dataset, its grants, the queued jobs, each in id order)
before the first audit entry: appending one takes the audit chain's lock, which
a worker's claim (holding a job row) and a submission (holding a grant row) wait
for, so locking a row after it could deadlock on PostgreSQL.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select

from policies.access import check_can_manage_datasets
from policies.airlock import JobStatus
from policies.errors import NotFound
from policies.grants import GrantState
from sandbox.access import grants
from sandbox.access.auth import Principal
from sandbox.audit import chain as audit
from sandbox.catalog import withdraw as tombstone
from sandbox.jobs.lifecycle import transition
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import Dataset, DatasetHierarchy, Grant, Job, grant_datasets, utcnow

log = logging.getLogger(__name__)


def withdraw(db: Database, settings: Settings, who: Principal, name: str, reason: str) -> Dataset:
    """Withdraw a dataset of the steward's bureau.

    Args:
        db: The store.
        settings: Where the dataset's files are.
        who: A steward of the bureau owning the dataset.
        name: The dataset.
        reason: Why (audited; recorded on the terminated grants and failed jobs).

    Returns:
        The tombstone.

    Raises:
        InvalidRequest: No reason.
        NotFound: No such dataset.
        PolicyViolation: Not a steward of the owning bureau (art. 63).
        Conflict: Withdrawn already.
    """
    tombstone.check_reason(reason)
    with db.session() as session:
        # FOR NO KEY UPDATE: rows inserted meanwhile that refer to the dataset (a firm's
        # budget, a ledger entry) need not wait, holding their own locks, for this one
        dataset = session.scalar(
            select(Dataset).where(Dataset.name == name).with_for_update(of=Dataset, key_share=True)
        )
        if dataset is None:
            raise NotFound(f"no dataset named '{name}'")
        check_can_manage_datasets(who.role, who.org_id, [dataset.org_id])
        # every row lock before the first audit entry (which takes the audit lock): a
        # worker's claim holds a job row, a submission a grant row, then wait for that lock
        grant_ids = list(
            session.scalars(
                select(Grant.id)
                .join(grant_datasets, grant_datasets.c.grant_id == Grant.id)
                .where(grant_datasets.c.dataset_id == dataset.id)
                .order_by(Grant.id)
                .with_for_update(of=Grant)
            )
        )
        queued = [
            job
            for job in session.scalars(
                select(Job)
                .where(Job.status == JobStatus.QUEUED.value)
                .order_by(Job.id)
                .with_for_update(of=Job)
            )
            if name in job.dataset_names
        ]
        tombstone.mark(dataset, reason, utcnow())
        hierarchies = session.execute(
            delete(DatasetHierarchy).where(DatasetHierarchy.dataset_id == dataset.id)
        ).rowcount  # type: ignore[attr-defined]
        why = f"dataset '{name}' withdrawn by its bureau: {reason}"
        terminated = []
        for grant_id in grant_ids:
            grant = grants.get(session, grant_id, for_update=True)
            if GrantState(grant.state) is not GrantState.TERMINATED:
                grants.transition(
                    db, session, who.actor, grant_id, GrantState.TERMINATED, why,
                    user_id=who.user_id,
                )  # fmt: skip
                terminated.append(grant_id)
        failed = []
        for job in queued:
            transition(
                db,
                session,
                job,
                JobStatus.FAILED,
                actor=who.actor,
                action="job.fail",
                error=f"dataset '{name}' was withdrawn by its bureau before the job ran",
            )
            failed.append(job.id)
        audit.append(
            db,
            session,
            who.actor,
            "dataset.withdraw",
            f"dataset:{name}",
            reason=reason,
            grants_terminated=terminated,
            jobs_failed=failed,
            hierarchies_deleted=hierarchies,
        )
    try:
        tombstone.delete_files(settings, dataset)
    except OSError as err:  # committed: the tombstone stands; the files are an operator's job
        log.error(
            "dataset %s withdrawn, but its files could not be deleted (%s)",
            name,
            type(err).__name__,
        )
    return dataset
