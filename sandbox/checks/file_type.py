"""``file_type``: every file of the output is of an allowed type, identified by content.

The kind's formats at the top level; inside a program's zip archive, the
members' allowlist without path traversal, links, nesting or bombs
(:mod:`sandbox.checks.support.files`: Parquet magic, PNG chunks, strict
UTF-8, JSON parses). A file that identified as its type but failed to read in full
fails here too.
"""

from __future__ import annotations

from sandbox.checks.base import Check, CheckContext, Contents

NAME = "file_type"
ON_EMPTY = True


def run(contents: Contents, context: CheckContext) -> Check:
    """Fail on any file-type problem, or when no file could be checked at all."""
    if contents.problems:
        return Check(NAME, "fail", "; ".join(contents.problems))
    if not contents.members:
        why = "it exceeds the size cap" if contents.oversize else "it holds no file"
        return Check(NAME, "fail", f"the output was not checked: {why}")
    formats = sorted({m.fmt for m in contents.members})
    return Check(
        NAME, "pass", f"{len(contents.members)} files of allowed types ({', '.join(formats)})"
    )
