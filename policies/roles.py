"""Who may do what (art. 63: access control)."""

from __future__ import annotations

from enum import StrEnum

from policies.errors import PolicyViolation


class Role(StrEnum):
    """A user's role; one per user."""

    ADMIN = "admin"  # platform operator: users, tokens, configuration
    STEWARD = "steward"  # data bureau: catalog, grants, review
    OPERATOR = "operator"  # analyst of an authorized firm (art. 35)
    AUDITOR = "auditor"  # reads the audit log and manifests


class OrgKind(StrEnum):
    """What an organisation is."""

    BUREAU = "bureau"  # 数据主管部门 or the data owner institution
    OPERATOR = "operator"  # 公共数据运营机构 (art. 35)
    PLATFORM = "platform"  # runs the sandbox


#: The organisation kind each role must belong to.
ROLE_ORG_KIND: dict[Role, frozenset[OrgKind]] = {
    Role.ADMIN: frozenset({OrgKind.PLATFORM}),
    Role.STEWARD: frozenset({OrgKind.BUREAU}),
    Role.OPERATOR: frozenset({OrgKind.OPERATOR}),
    Role.AUDITOR: frozenset({OrgKind.BUREAU, OrgKind.PLATFORM}),
}


def check_role(actual: Role, *allowed: Role) -> None:
    """Raise unless ``actual`` is one of ``allowed``.

    Raises:
        PolicyViolation: The role may not do this (art. 63).

    >>> check_role(Role.STEWARD, Role.STEWARD, Role.ADMIN)
    >>> has_role(Role.OPERATOR, Role.STEWARD)
    False
    """
    if actual not in allowed:
        names = " or ".join(r.value for r in allowed)
        raise PolicyViolation(f"this action needs the {names} role (art. 63: access control)")


def has_role(actual: Role, *allowed: Role) -> bool:
    """Whether ``actual`` is one of ``allowed``; see :func:`check_role`."""
    return actual in allowed


def check_role_fits_org(role: Role, org_kind: OrgKind) -> None:
    """Raise unless a user with ``role`` may belong to an organisation of ``org_kind``.

    Raises:
        PolicyViolation: e.g. a steward in an operator firm, who would review their own jobs.
    """
    if org_kind not in ROLE_ORG_KIND[role]:
        kinds = " or ".join(sorted(k.value for k in ROLE_ORG_KIND[role]))
        raise PolicyViolation(f"a {role.value} must belong to a {kinds} organisation")
