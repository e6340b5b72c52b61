"""What is allowed: pure rules, no I/O.

Map of the package:

- :mod:`policies.errors` — the one error tree (:class:`SandboxError` and its children).
- :mod:`policies.catalog` — open attribute (art. 34), grade (art. 62), column tags and
  which uses each tag admits (art. 37).
- :mod:`policies.roles` — roles and organisation kinds (art. 63).
- :mod:`policies.access` — a bureau acts on its own datasets only; who reads exact facts
  of stored data and run reports (art. 63).
- :mod:`policies.names` — names of datasets, organisations and users that read one way
  only (NFKC; no control, invisible or direction characters, no look-alike alphabets mixed).
- :mod:`policies.grants` — grant states and transitions (art. 76), who may be granted
  what (art. 34) and when a job may be submitted.
- :mod:`policies.budget` — :class:`PrivacyBudget` and the spending rule.
- :mod:`policies.airlock` — job states, review and download rules, small-cell limits.
- :mod:`policies.extract` — what an anonymized extract must reach: k by grade, l for
  sensitive columns, pseudonyms only with linkage (art. 37, 62).

Rules come in pairs: ``check_can_x`` raises a precise error, ``can_x`` returns a bool.
"""

from policies.access import (
    can_manage_datasets,
    can_read_exact_facts,
    check_can_manage_datasets,
    check_can_read_exact_facts,
)
from policies.airlock import (
    Decision,
    JobStatus,
    approvals_required,
    approvals_required_for,
    can_add_approval,
    can_approve,
    can_download,
    can_review,
    check_can_add_approval,
    check_can_approve,
    check_can_download,
    check_can_review,
    check_can_see_job,
    min_cell_size,
    release_due,
)
from policies.budget import PrivacyBudget
from policies.catalog import ColumnTag, ColumnUse, Grade, OpenAttribute, check_column_use
from policies.errors import (
    BudgetExhausted,
    Conflict,
    InternalError,
    InvalidJobSpec,
    InvalidRequest,
    JobFailed,
    NotFound,
    PolicyViolation,
    SandboxError,
    Unauthenticated,
)
from policies.grants import (
    GrantState,
    can_grant,
    can_submit,
    check_can_grant,
    check_can_submit,
)
from policies.names import can_name, check_name
from policies.roles import OrgKind, Role, check_role

__all__ = [
    "BudgetExhausted",
    "ColumnTag",
    "ColumnUse",
    "Conflict",
    "Decision",
    "Grade",
    "GrantState",
    "InternalError",
    "InvalidJobSpec",
    "InvalidRequest",
    "JobFailed",
    "JobStatus",
    "NotFound",
    "OpenAttribute",
    "OrgKind",
    "PolicyViolation",
    "PrivacyBudget",
    "Role",
    "SandboxError",
    "Unauthenticated",
    "approvals_required",
    "approvals_required_for",
    "can_add_approval",
    "can_approve",
    "can_download",
    "can_grant",
    "can_manage_datasets",
    "can_name",
    "can_read_exact_facts",
    "can_review",
    "can_submit",
    "check_can_add_approval",
    "check_can_approve",
    "check_can_download",
    "check_can_grant",
    "check_can_manage_datasets",
    "check_can_read_exact_facts",
    "check_can_review",
    "check_can_see_job",
    "check_can_submit",
    "check_column_use",
    "check_name",
    "check_role",
    "min_cell_size",
    "release_due",
]
