"""Request schemas read job kinds from the registry: a registered kind is accepted, no list."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from jobs.kinds import KINDS
from sandbox.web.api.schemas import GrantCreate
from tests.unit.sandbox.web._toy import TOY, toy


def _grant(kinds: list[str]) -> dict[str, Any]:
    return {
        "org_id": 1,
        "datasets": ["residents"],
        "purpose": "a report",
        "kinds": kinds,
        "epsilon": 1.0,
        "expires_at": "2030-01-01T00:00:00+08:00",
    }


def test_grant_create_when_every_registered_kind_then_accepted():
    assert GrantCreate.model_validate(_grant(list(KINDS.names()))).kinds == list(KINDS.names())


def test_grant_create_when_unknown_kind_then_refused_as_a_choice_naming_the_kinds():
    with pytest.raises(ValidationError) as raised:
        GrantCreate.model_validate(_grant([TOY]))
    (problem,) = raised.value.errors()
    names = [repr(n) for n in KINDS.names()]
    assert problem["loc"] == ("kinds", 0) and problem["type"] == "literal_error"
    assert problem["msg"] == f"Input should be {', '.join(names[:-1])} or {names[-1]}"


def test_grant_create_when_a_toy_kind_is_registered_then_accepted_and_in_the_schema():
    with KINDS.registered(toy()):
        assert GrantCreate.model_validate(_grant([TOY])).kinds == [TOY]
        enum = GrantCreate.model_json_schema()["properties"]["kinds"]["items"]["enum"]
        assert enum == list(KINDS.names()) and enum[-1] == TOY
    assert TOY not in GrantCreate.model_json_schema()["properties"]["kinds"]["items"]["enum"]
