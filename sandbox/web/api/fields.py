"""Validators of request fields the schemas share: names (stored NFKC, no value in a
refusal) and job kinds' names (read from the registry, :data:`jobs.kinds.KINDS`)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from jobs.kinds import KINDS
from policies.errors import InvalidRequest
from policies.names import check_name

NAME_LENGTH = 200


def name_check(what: str, pattern: str | None = None, means: str = "") -> AfterValidator:
    """A validator applying :func:`policies.names.check_name` (the 422 names no value).

    ``pattern`` and the length bound apply to the NFKC form that is stored (``ﷺ``
    is one word character that NFKC makes into four words).
    """
    compiled = re.compile(pattern) if pattern else None

    def validate(value: str) -> str:
        try:
            name = check_name(value, what)
        except InvalidRequest as err:
            raise ValueError(str(err)) from None
        if len(name) > NAME_LENGTH:
            raise ValueError(f"the {what} is longer than {NAME_LENGTH} characters")
        if compiled is not None and not compiled.fullmatch(name):
            raise ValueError(f"the {what} may hold {means} only")
        return name

    return AfterValidator(validate)


def _registered_kind(name: str) -> str:
    """A registered job kind's name, checked when a request is read (a test's toy kind too).

    The refusal reads as pydantic's own for a fixed choice.
    """
    if name not in KINDS:
        names = [repr(n) for n in KINDS.names()]
        expected = " or ".join(filter(None, (", ".join(names[:-1]), names[-1])))
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": expected}
        )
    return name


def kind_choices(schema: dict[str, Any]) -> None:
    """The kinds' names as the OpenAPI enum, from the registry when the document is built."""
    schema["items"]["enum"] = list(KINDS.names())


#: A job kind's name (:data:`jobs.kinds.KINDS`).
KindName = Annotated[str, AfterValidator(_registered_kind)]
