"""Request parameters every route shares: ids bounded to what the store can hold.

The store's keys are SQL ``INTEGER`` (32-bit on PostgreSQL; SQLite takes 64
bits): a larger id sent to a route would fail inside the database driver
(a 5xx) instead of being refused with a 422 that says what is allowed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

#: The largest key a PostgreSQL ``INTEGER`` column holds (2**31 - 1).
MAX_ID = 2_147_483_647

#: An id in a request body (``grant_id``, ``org_id``).
Id = Annotated[int, Field(ge=1, le=MAX_ID, description=f"an id between 1 and {MAX_ID}")]
#: An id in a route's path (``/jobs/{job_id}``).
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=f"an id between 1 and {MAX_ID}")]


def parse_id(text: str) -> int | None:
    """An id written in ASCII digits within the store's range, else ``None``.

    >>> parse_id("12"), parse_id("0"), parse_id("99999999999"), parse_id("²"), parse_id("")
    (12, None, None, None, None)
    """
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
