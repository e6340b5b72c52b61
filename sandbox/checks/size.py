"""``size``: the byte and row caps, and what the readers' budget refused.

Nothing is read past the budget (:mod:`sandbox.checks.support.tables`: cells,
JSON values, nesting), so a small file that unpacks to millions of rows costs
the cap; what was refused is named here, unread.
"""

from __future__ import annotations

from sandbox.checks.base import Check, CheckContext, Contents

NAME = "size"
ON_EMPTY = True


def run(contents: Contents, context: CheckContext) -> Check:
    """Fail when the output or its rows exceed the caps; else say how big it is."""
    rows = sum(t.rows for t in contents.tables)
    oversize = list(contents.oversize)
    if rows > contents.max_rows:
        oversize.append(f"{rows} rows exceed the cap of {contents.max_rows} (checked the first)")
    if oversize:
        return Check(NAME, "fail", "; ".join(oversize))
    return Check(
        NAME,
        "pass",
        f"{contents.content_bytes} bytes, {rows} rows in {len(contents.tables)} tables",
    )
