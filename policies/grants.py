"""Grants: which operator may run which kinds of job on which datasets.

A grant is the authorization of art. 35 made concrete: an operator
organisation, the datasets it may use, a declared purpose, the job kinds
allowed, an (ε, δ) budget and an expiry. Art. 76 lets the bureau suspend or
terminate an operator that exceeds its scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from policies.catalog import OpenAttribute
from policies.errors import Conflict, InvalidRequest, PolicyViolation

#: A declared purpose shorter than this says nothing a reviewer can check: two characters,
#: so that a purpose in Chinese ("科研", research) passes.
MIN_PURPOSE_LENGTH = 2


class GrantState(StrEnum):
    """Life of a grant (art. 76)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"

    def is_terminal(self) -> bool:
        """A terminated grant never comes back."""
        return self is GrantState.TERMINATED


# art. 76: the bureau suspends an operator that exceeds its scope, reinstates
# it once remedied, or terminates it for good.
_TRANSITIONS: dict[GrantState, frozenset[GrantState]] = {
    GrantState.ACTIVE: frozenset({GrantState.SUSPENDED, GrantState.TERMINATED}),
    GrantState.SUSPENDED: frozenset({GrantState.ACTIVE, GrantState.TERMINATED}),
    GrantState.TERMINATED: frozenset(),
}


def check_can_transition(current: GrantState, target: GrantState) -> None:
    """Raise unless a grant may move from ``current`` to ``target``.

    A transition to the state the grant is already in is allowed and does
    nothing (idempotent), except out of ``terminated``, which is final.

    Raises:
        Conflict: The transition is not allowed.

    >>> check_can_transition(GrantState.ACTIVE, GrantState.SUSPENDED)
    >>> can_transition(GrantState.TERMINATED, GrantState.ACTIVE)
    False
    """
    if current == target:
        return
    if target not in _TRANSITIONS[current]:
        raise Conflict(
            f"a {current.value} grant cannot become {target.value} (art. 76); "
            "a terminated grant is final: create a new grant instead"
        )


def can_transition(current: GrantState, target: GrantState) -> bool:
    """Whether the transition is allowed; see :func:`check_can_transition`."""
    try:
        check_can_transition(current, target)
    except Conflict:
        return False
    return True


def check_can_grant(
    dataset: str,
    open_attribute: OpenAttribute,
    purpose: str,
    commitment_required: bool,
) -> None:
    """Raise unless a dataset with ``open_attribute`` may be granted for ``purpose``.

    Args:
        dataset: The dataset's name (catalog metadata, safe to show).
        open_attribute: The dataset's open attribute.
        purpose: The operator's declared purpose.
        commitment_required: Whether the grant requires the operator firm to accept the
            data-use commitment (the firm accepts it itself: :func:`check_commitment_met`).

    Raises:
        PolicyViolation: The dataset is closed, or conditions are unmet.

    >>> check_can_grant("d", OpenAttribute.UNCONDITIONAL, "", False)
    >>> can_grant("d", OpenAttribute.CLOSED, "a long enough purpose", True)
    False
    """
    if open_attribute is OpenAttribute.CLOSED:
        # art. 34: data that is not to be opened cannot be granted.
        raise PolicyViolation(
            f"dataset '{dataset}' is closed (不予开放) and cannot be granted (art. 34)"
        )
    if open_attribute is OpenAttribute.CONDITIONAL:
        # art. 34: conditional opening needs a declared purpose and the
        # operator's commitment to the conditions of use.
        if len(purpose.strip()) < MIN_PURPOSE_LENGTH:
            raise PolicyViolation(
                f"dataset '{dataset}' is conditionally open (有条件开放): the grant needs a "
                f"declared purpose of at least {MIN_PURPOSE_LENGTH} characters (art. 34)"
            )
        if not commitment_required:
            raise PolicyViolation(
                f"dataset '{dataset}' is conditionally open (有条件开放): the grant must require "
                "the operator firm's data-use commitment (commitment_required, art. 34)"
            )


def can_grant(
    dataset: str, open_attribute: OpenAttribute, purpose: str, commitment_required: bool
) -> bool:
    """Whether the dataset may be granted; see :func:`check_can_grant`."""
    try:
        check_can_grant(dataset, open_attribute, purpose, commitment_required)
    except PolicyViolation:
        return False
    return True


def commitment_text(purpose: str) -> str:
    """The data-use commitment (art. 34) an operator firm accepts for a grant's ``purpose``.

    Fixed text, Chinese first then English; the purpose is the grant's own declared one.

    >>> "第三十四条" in commitment_text("统计报告") and "art. 34" in commitment_text("x")
    True
    """
    return (
        "数据使用承诺（第三十四条）：本单位承诺仅为以下已申报用途使用有条件开放的数据："
        f"“{purpose.strip()}”；不尝试识别任何个人，不向第三方提供数据或结果之外的任何内容，"
        "遵守数据管理机构规定的使用条件，并接受其监督和审计。\n"
        "Data-use commitment (art. 34): our firm will use the conditionally open data only "
        f"for the declared purpose above (“{purpose.strip()}”), will not attempt to identify "
        "any person, will pass nothing beyond released results to third parties, will keep "
        "to the conditions of use the data bureau sets, and accepts its supervision and audit."
    )


def check_commitment_met(
    grant_id: int,
    open_attributes: Iterable[OpenAttribute],
    commitment_required: bool,
    commitment_accepted: bool,
) -> None:
    """Raise unless a job on datasets with ``open_attributes`` may run under the grant.

    Args:
        grant_id: The grant (named in the message: the operator accepts with it).
        open_attributes: The job's datasets' open attributes.
        commitment_required: Whether the steward required the firm's commitment.
        commitment_accepted: Whether the firm accepted it.

    Raises:
        PolicyViolation: A conditional dataset, a required commitment not accepted yet.

    >>> check_commitment_met(1, [OpenAttribute.CONDITIONAL], True, True)
    >>> commitment_met(1, [OpenAttribute.CONDITIONAL], True, False)
    False
    """
    # art. 34: conditionally open data is used only once the operator firm itself
    # accepted the conditions of use (the steward only requires it).
    conditional = OpenAttribute.CONDITIONAL in set(open_attributes)
    if conditional and commitment_required and not commitment_accepted:
        raise PolicyViolation(
            f"授权 {grant_id} 的数据集为有条件开放，贵单位须先接受数据使用承诺（第三十四条）："
            f"sandbox grants accept-commitment {grant_id}，或 client.accept_commitment({grant_id})"
            f" / the grant's datasets are conditionally open: your firm must first accept the "
            f"data-use commitment (art. 34): sandbox grants accept-commitment {grant_id}, or "
            f"client.accept_commitment({grant_id}) (POST /v1/grants/{grant_id}/commitment)"
        )


def commitment_met(
    grant_id: int,
    open_attributes: Iterable[OpenAttribute],
    commitment_required: bool,
    commitment_accepted: bool,
) -> bool:
    """Whether the commitment rule lets the job run; see :func:`check_commitment_met`."""
    try:
        check_commitment_met(grant_id, open_attributes, commitment_required, commitment_accepted)
    except PolicyViolation:
        return False
    return True


def check_can_accept_commitment(commitment_required: bool, commitment_accepted: bool) -> None:
    """Raise unless the operator firm may accept a grant's commitment (idempotent).

    Raises:
        Conflict: The grant requires no commitment (nothing to accept).

    >>> check_can_accept_commitment(True, False)
    >>> check_can_accept_commitment(False, True)  # accepted before the steward's flag existed
    """
    if not commitment_required and not commitment_accepted:
        raise Conflict(
            "该授权无需数据使用承诺 / this grant requires no data-use commitment (art. 34): "
            "nothing to accept"
        )


def check_grant_terms(expires_at: datetime, now: datetime, kinds: Iterable[str]) -> None:
    """Raise unless a new grant's expiry and kinds make sense.

    Raises:
        InvalidRequest: The grant expires in the past or allows no job kind.
    """
    if expires_at <= now:
        raise InvalidRequest("a grant must expire in the future")
    if not list(kinds):
        raise InvalidRequest("a grant must allow at least one job kind")


def check_in_force(state: GrantState, expires_at: datetime, now: datetime) -> None:
    """Raise unless the grant is in force: active and unexpired (art. 76).

    The one statement of the rule: submission, the start of a queued job, a
    download and the answer cache all ask it.

    Raises:
        PolicyViolation: The grant is suspended, terminated or expired.

    >>> from datetime import datetime, timedelta
    >>> t = datetime(2026, 1, 1)
    >>> check_in_force(GrantState.ACTIVE, t + timedelta(days=1), t)
    >>> in_force(GrantState.ACTIVE, t, t), in_force(GrantState.SUSPENDED, t + timedelta(1), t)
    (False, False)
    """
    if state is not GrantState.ACTIVE:
        raise PolicyViolation(
            f"the grant is {state.value} and accepts no new jobs (art. 76); contact the data bureau"
        )
    if now >= expires_at:
        raise PolicyViolation("the grant has expired; ask the data bureau to renew it")


def in_force(state: GrantState, expires_at: datetime, now: datetime) -> bool:
    """Whether the grant is active and unexpired; see :func:`check_in_force`."""
    return state is GrantState.ACTIVE and now < expires_at


def check_can_submit(
    state: GrantState,
    expires_at: datetime,
    now: datetime,
    kind: str,
    allowed_kinds: Iterable[str],
    datasets: Iterable[str],
    granted_datasets: Iterable[str],
) -> None:
    """Raise unless a job of ``kind`` on ``datasets`` may run under the grant.

    Raises:
        PolicyViolation: The grant is suspended, terminated or expired, or
            the job is outside its scope (art. 76).

    >>> from datetime import datetime, timedelta
    >>> t = datetime(2026, 1, 1)
    >>> check_can_submit(GrantState.ACTIVE, t + timedelta(days=1), t, "aggregate",
    ...                  ["aggregate"], ["d"], ["d"])
    >>> can_submit(GrantState.SUSPENDED, t + timedelta(days=1), t, "aggregate",
    ...            ["aggregate"], ["d"], ["d"])
    False
    """
    check_in_force(state, expires_at, now)
    allowed = set(allowed_kinds)
    if kind not in allowed:
        raise PolicyViolation(
            f"the grant does not allow '{kind}' jobs; it allows: {', '.join(sorted(allowed))}"
        )
    outside = sorted(set(datasets) - set(granted_datasets))
    if outside:
        raise PolicyViolation(f"datasets outside the grant's scope: {', '.join(outside)} (art. 76)")


def can_submit(
    state: GrantState,
    expires_at: datetime,
    now: datetime,
    kind: str,
    allowed_kinds: Iterable[str],
    datasets: Iterable[str],
    granted_datasets: Iterable[str],
) -> bool:
    """Whether a job may be submitted; see :func:`check_can_submit`."""
    try:
        check_can_submit(state, expires_at, now, kind, allowed_kinds, datasets, granted_datasets)
    except PolicyViolation:
        return False
    return True
