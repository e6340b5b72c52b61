"""Who may act on or read what, beyond the role itself (art. 63: access control).

A dataset belongs to the bureau whose steward ingested it: only that
bureau's stewards grant it, change grants on it and review outputs made
from it. Exact facts of the stored data (its row count, the plain SHA-256
of its files) and the exact run reports are for the bureau (stewards) and
auditors; operators and platform admins see the public, noisy count and a
keyed digest instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from policies.errors import PolicyViolation
from policies.roles import Role

#: Roles that read exact facts of stored data and exact run reports.
_EXACT_READERS = frozenset({Role.STEWARD, Role.AUDITOR})


def check_can_manage_datasets(role: Role, caller_org: int, owners: Iterable[int | None]) -> None:
    """Raise unless the caller's bureau owns every one of the datasets.

    Granting datasets, suspending, reinstating or terminating a grant on them
    and reviewing outputs made from them belong to the bureau that ingested
    them; a grant or job that spans several bureaus' datasets is refused
    unless the caller's bureau owns them all.

    Args:
        role: The caller's role.
        caller_org: The caller's organisation.
        owners: The owning organisation of each dataset involved (``None``: unknown owner).

    Raises:
        PolicyViolation: Not a steward, or a dataset of another bureau (art. 63).

    >>> check_can_manage_datasets(Role.STEWARD, 1, [1, 1])
    >>> can_manage_datasets(Role.STEWARD, 1, [1, 2])
    False
    """
    if role is not Role.STEWARD:
        raise PolicyViolation(
            "only a data bureau steward grants, changes grants and reviews (art. 63: access "
            "control); ask a steward of the bureau that owns the data"
        )
    # art. 63: a bureau controls access to the data it holds, and no other bureau does
    if any(owner != caller_org for owner in owners):
        raise PolicyViolation(
            "this involves datasets of another bureau: only stewards of the bureau that "
            "ingested a dataset grant it, change grants on it and review its outputs "
            "(art. 63: access control); ask a steward of that bureau, or split the grant "
            "so that each bureau grants its own datasets"
        )


def can_manage_datasets(role: Role, caller_org: int, owners: Iterable[int | None]) -> bool:
    """Whether the caller's bureau owns every dataset; see :func:`check_can_manage_datasets`."""
    try:
        check_can_manage_datasets(role, caller_org, owners)
    except PolicyViolation:
        return False
    return True


def check_can_read_exact_facts(role: Role) -> None:
    """Raise unless ``role`` may read exact, non-private facts of stored data.

    Exact row counts, plain SHA-256 digests of stored files and run reports
    (how many groups existed, rows suppressed) are no differentially private
    statistics: with the plain hash and the row count, one person's value was
    recovered by guessing. Stewards (who hold the data) and auditors read
    them; operators and admins read the public count and keyed digests only.

    Raises:
        PolicyViolation: An operator or an admin (art. 63).

    >>> check_can_read_exact_facts(Role.AUDITOR)
    >>> can_read_exact_facts(Role.ADMIN)
    False
    """
    if role not in _EXACT_READERS:
        raise PolicyViolation(
            "exact facts of stored data and run reports are for stewards and auditors "
            "(art. 63: access control); read the public row count and the keyed digest, "
            "or ask the data bureau"
        )


def can_read_exact_facts(role: Role) -> bool:
    """Whether ``role`` reads exact facts; see :func:`check_can_read_exact_facts`."""
    return role in _EXACT_READERS


def check_can_read_exact_facts_of(
    role: Role, caller_org: int, owners: Iterable[int | None]
) -> None:
    """Raise unless the caller may read the exact facts of these datasets.

    Exact facts (row counts, plain SHA-256 digests, quality profiles, run
    reports of jobs reading them) belong to the bureau that holds the data and
    to auditors: a steward of another bureau reads the public count and the
    keyed digest only, like an operator.

    Args:
        role: The caller's role.
        caller_org: The caller's organisation.
        owners: The owning organisation of each dataset involved (``None``: unknown owner).

    Raises:
        PolicyViolation: An operator, an admin, or a steward of another bureau (art. 63).

    >>> check_can_read_exact_facts_of(Role.AUDITOR, 9, [1, 2])
    >>> check_can_read_exact_facts_of(Role.STEWARD, 1, [1])
    >>> can_read_exact_facts_of(Role.STEWARD, 1, [1, 2])
    False
    """
    check_can_read_exact_facts(role)
    if role is Role.STEWARD and any(owner != caller_org for owner in owners):
        raise PolicyViolation(
            "exact facts of another bureau's data are for that bureau's stewards and "
            "auditors (art. 63: access control); read the public row count and the keyed "
            "digest, or ask a steward of that bureau"
        )


def can_read_exact_facts_of(role: Role, caller_org: int, owners: Iterable[int | None]) -> bool:
    """Whether the caller reads these datasets' exact facts; see
    :func:`check_can_read_exact_facts_of`."""
    try:
        check_can_read_exact_facts_of(role, caller_org, owners)
    except PolicyViolation:
        return False
    return True
