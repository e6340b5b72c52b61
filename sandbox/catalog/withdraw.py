"""A withdrawn dataset: the catalog's tombstone and what it refuses.

A bureau may withdraw a dataset it owns (art. 63: the data provider decides
what it offers). The catalog row stays, with ``withdrawn_at`` and the reason, so
that the ledger, the jobs and the releases that name it keep their meaning and
the audit log its subject; the stored files are deleted. Operators no longer
see it, and it can no longer be an input: no new grant, no job, no approval of
an output computed from it. Released products stay downloadable: they already
crossed the boundary under a signed manifest.

The whole withdrawal (grants terminated, queued jobs failed, audited) is
:func:`sandbox.service.withdraw.withdraw`; this module holds the catalog's part.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterable
from pathlib import Path

from jobs import storage
from policies.airlock import MIN_REASON_LENGTH
from policies.errors import Conflict, InvalidRequest
from policies.roles import Role
from sandbox.settings import Settings
from sandbox.store.models import Dataset


def check_reason(reason: str) -> None:
    """Refuse a withdrawal without a reason (it is audited and shown to grantees).

    Raises:
        InvalidRequest: Fewer than :data:`policies.airlock.MIN_REASON_LENGTH` characters.

    >>> check_reason("licence ended")
    """
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise InvalidRequest(
            f"give a reason of at least {MIN_REASON_LENGTH} characters for the withdrawal "
            "(it is audited and the grantees see it)"
        )


def check_usable(dataset: Dataset) -> None:
    """Refuse a withdrawn dataset as the input of anything new.

    Raises:
        Conflict: The dataset was withdrawn.
    """
    if dataset.withdrawn_at is not None:
        raise Conflict(
            f"dataset '{dataset.name}' was withdrawn by its bureau on "
            f"{dataset.withdrawn_at:%Y-%m-%d}; it can no longer be granted, queried or "
            "released from (outputs released before stay downloadable)"
        )


def visible(role: Role, datasets: Iterable[Dataset]) -> list[Dataset]:
    """The datasets a role lists: operators do not see withdrawn ones."""
    return [d for d in datasets if role is not Role.OPERATOR or d.withdrawn_at is None]


def mark(dataset: Dataset, reason: str, now: dt.datetime) -> None:
    """Turn the row into a tombstone (the files go once the transaction commits).

    Raises:
        Conflict: Withdrawn already.
    """
    if dataset.withdrawn_at is not None:
        raise Conflict(f"dataset '{dataset.name}' was withdrawn already")
    dataset.withdrawn_at = now
    dataset.withdrawn_reason = reason


def delete_files(settings: Settings, dataset: Dataset) -> bool:
    """Delete a withdrawn dataset's stored files (idempotent); whether any were there.

    Only a folder inside the datasets folder (or prefix, in object storage) is removed,
    whatever the row says.
    """
    root = settings.datasets_location
    if storage.is_remote(root):
        inside = dataset.path.startswith(root + "/") and ".." not in dataset.path.split("/")
        return inside and storage.delete_tree(dataset.path)
    folder = Path(dataset.path).resolve()
    if folder == Path(root) or not folder.is_relative_to(root) or not folder.exists():
        return False
    shutil.rmtree(folder)
    return True
