"""The console's names for stored values: states, grades, open attributes, tags, roles.

The store keeps English identifiers (``"suspended"``, ``"important"``); a page shows them
in the reader's language with the ``|term`` filter (registered in
:mod:`sandbox.web.console.web`). A value not listed here shows as stored. Chinese follows
the regulation's words (一般 / 重要 / 核心数据, 无条件 / 有条件 / 不予开放).
"""

from __future__ import annotations

from sandbox.web.console.i18n import N_, gettext

#: Stored value to its msgid.
TERMS: dict[str, str] = {
    # grades (art. 62)
    "general": N_("general data"),
    "important": N_("important data"),
    "core": N_("core data"),
    # open attributes (art. 34)
    "unconditional": N_("unconditionally open"),
    "conditional": N_("conditionally open"),
    "closed": N_("not open"),
    # grants (art. 76)
    "active": N_("active"),
    "suspended": N_("suspended"),
    "terminated": N_("terminated"),
    # jobs
    "queued": N_("queued"),
    "running": N_("running"),
    "awaiting_review": N_("awaiting review"),
    "released": N_("released"),
    "rejected": N_("rejected"),
    "returned": N_("returned for changes"),
    "failed": N_("failed"),
    # decisions
    "approve": N_("approve"),
    "reject": N_("reject"),
    "return": N_("return for changes"),
    # column tags and where they came from
    "direct_identifier": N_("direct identifier"),
    "quasi_identifier": N_("quasi-identifier"),
    "sensitive": N_("sensitive"),
    "plain": N_("plain"),
    "proposal": N_("detector proposal"),
    "override": N_("steward override"),
    "steward": N_("steward"),
    # roles
    "auditor": N_("auditor"),
    "admin": N_("administrator"),
    "operator": N_("operator"),
    # fields of audit details
    "reason": N_("reason"),
    "comment": N_("comment"),
    "purpose": N_("purpose"),
    "org": N_("organisation"),
    "dataset": N_("dataset"),
    "datasets": N_("datasets"),
    "kinds": N_("kinds"),
    "decision": N_("decision"),
    "overrides": N_("overridden checks"),
    "override_reason": N_("override reason"),
    "period": N_("period"),
    "files": N_("files"),
    "status": N_("status"),
    "rows": N_("rows"),
    "role": N_("role"),
    "name": N_("name"),
    # checks
    "pass": N_("pass"),
    "warn": N_("warning"),
    "fail": N_("fail"),
}


def term(value: object) -> str:
    """``value`` in the reader's language when it is a known stored value, else as stored.

    >>> term("residents"), term(None)
    ('residents', '')
    """
    if value is None:
        return ""
    text = str(value)
    return gettext(TERMS[text]) if text in TERMS else text
