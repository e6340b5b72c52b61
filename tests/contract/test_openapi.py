"""The API's contract: its OpenAPI document keeps everything the baseline had.

``openapi_baseline.json`` is the document of the service before the redesign (issue 14).
Every path, method, parameter, schema and field in it must still be there with the
same content; additions (a new path, a new optional field, a new kind in the spec
union) are allowed. Prose (``description``, ``summary``) is compared too, except where
:data:`REWORDED` lists it with the reason. One more rule keeps callers safe: a schema a
caller sends may not gain a required field.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

BASELINE = Path(__file__).with_name("openapi_baseline.json")
#: Prose that changed on purpose (JSON Pointer -> why); it must still be there.
REWORDED = {
    "/components/schemas/DatasetPublic/description": (
        "the docstring names the module of the catalog's facts, which moved "
        "(sandbox.dataset_facts -> sandbox.catalog.facts)"
    ),
    "/paths/~1v1~1datasets/get/description": (
        "says that withdrawn datasets are listed as tombstones, except to operators (issue 15)"
    ),
    "/paths/~1v1~1datasets~1{name}/get/description": (
        "says that a withdrawn dataset is not found for operators (issue 15)"
    ),
}
#: Where the app factory lives: after the redesign, then before it.
FACTORIES = ("sandbox.web.app",)


def _create_app() -> Callable[[Any], Any]:
    for module in FACTORIES:
        try:
            return importlib.import_module(module).create_app  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    raise AssertionError(f"no create_app in any of {FACTORIES}")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The app's OpenAPI document, built the way the baseline was (no Ray: a dummy runner)."""
    from sandbox.service import Sandbox
    from sandbox.settings import Settings

    data_dir = tmp_path_factory.mktemp("openapi")
    app = _create_app()(Sandbox(Settings(data_dir=data_dir), runner=object()))
    return dict(app.openapi())


def _json_path(where: str, key: object) -> str:
    return f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}"  # JSON Pointer


def missing(before: Any, now: Any, where: str = "") -> list[str]:
    """What of ``before`` is not in ``now``, as JSON Pointers with what changed.

    Objects: every key of ``before`` is in ``now`` with (recursively) the same content;
    ``now`` may hold more keys. Lists: every item of ``before`` matches an item of ``now``
    (items that are objects may have grown); ``now`` may hold more items. Anything else
    is equal. Prose listed in :data:`REWORDED` only needs to be there.

    >>> missing({"a": 1, "b": {"c": [1, 2]}}, {"a": 1, "b": {"c": [2, 1, 3]}, "d": 4})
    []
    >>> missing({"a": 1, "b": {"c": "x"}}, {"a": 2, "b": {}})
    ['/a: was 1, now 2', '/b/c: gone (was "x")']
    >>> missing({"l": [{"name": "q", "in": "query"}]}, {"l": [{"name": "q", "in": "path"}]})
    ['/l: item gone: {"in": "query", "name": "q"}']
    """
    if isinstance(before, dict):
        if not isinstance(now, dict):
            return [f"{where or '/'}: was an object, now {_show(now)}"]
        found: list[str] = []
        for key, value in before.items():
            here = _json_path(where, key)
            if key not in now:
                found.append(f"{here}: gone (was {_show(value)})")
            elif here in REWORDED and isinstance(value, str) and isinstance(now[key], str):
                continue
            else:
                found += missing(value, now[key], here)
        return found
    if isinstance(before, list):
        if not isinstance(now, list):
            return [f"{where or '/'}: was a list, now {_show(now)}"]
        return [
            f"{where or '/'}: item gone: {_show(item)}"
            for item in before
            if not any(not missing(item, candidate) for candidate in now)
        ]
    if before != now or type(before) is not type(now):
        return [f"{where or '/'}: {_describe(before, now)}"]
    return []


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:200] + "..."


def _describe(before: Any, now: Any) -> str:
    if isinstance(before, str) and isinstance(now, str) and len(before) + len(now) > 120:
        pairs = zip(before, now, strict=False)
        at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(before), len(now)))
        was, is_ = before[max(0, at - 30) : at + 50], now[max(0, at - 30) : at + 50]
        return f"differs at character {at}: was ...{was!r}..., now ...{is_!r}..."
    return f"was {_show(before)}, now {_show(now)}"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _sent_schemas(doc: dict[str, Any]) -> set[str]:
    """The component schemas a caller sends (request bodies, parameters), with all they use."""
    schemas = doc.get("components", {}).get("schemas", {})
    todo = [
        name
        for operation in _operations(doc)
        for part in (operation.get("requestBody"), operation.get("parameters"))
        for name in _refs(part)
    ]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo.extend(_refs(schemas[name]))
    return seen


def _operations(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in doc.get("paths", {}).values():
        for method, operation in item.items():
            if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}:
                yield operation


def _baseline() -> dict[str, Any]:
    return dict(json.loads(BASELINE.read_text(encoding="utf-8")))


def test_openapi_when_compared_with_the_baseline_then_nothing_is_gone_or_changed(document):
    gone = missing(_baseline(), document)
    assert gone == [], (
        "the OpenAPI document lost or changed what callers rely on (additions are fine):\n"
        + "\n".join(gone)
    )


def test_openapi_when_a_sent_schema_changes_then_it_gains_no_required_field(document):
    before = _baseline()
    old = before["components"]["schemas"]
    new = document.get("components", {}).get("schemas", {})
    grown = {
        name: sorted(set(new[name].get("required", [])) - set(old[name].get("required", [])))
        for name in sorted(_sent_schemas(before))
        if name in new
    }
    assert {k: v for k, v in grown.items() if v} == {}, (
        "a request a caller wrote against the baseline would be refused"
    )


@pytest.mark.parametrize(
    "before, now, expected",
    [
        # an added key, an added list item, a reordered list: all fine
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}, "d": 3}, []),
        ({"e": ["x", "y"]}, {"e": ["y", "z", "x"]}, []),
        # a changed scalar, a lost key, a changed type
        ({"a": "string"}, {"a": "integer"}, ['/a: was "string", now "integer"']),
        ({"a": {"b": 1}}, {"a": {}}, ["/a/b: gone (was 1)"]),
        ({"a": {"b": 1}}, {"a": [1]}, ["/a: was an object, now [1]"]),
        ({"a": 1}, {"a": True}, ["/a: was 1, now true"]),
        # prose is compared (unless listed as reworded), and may not be dropped
        (
            {"description": "old words"},
            {"description": "new words"},
            ['/description: was "old words", now "new words"'],
        ),
        ({"a": {"description": "x"}}, {"a": {}}, ['/a/description: gone (was "x")']),
        # a lost enum value; a path with slashes reads as a JSON Pointer
        ({"enum": ["a", "b"]}, {"enum": ["a"]}, ['/enum: item gone: "b"']),
        (
            {"paths": {"/v1/jobs": {"get": {}}}},
            {"paths": {}},
            ["/paths/~1v1~1jobs: gone (was {...})"],
        ),
    ],
)
def test_missing_when_comparing_documents_then_reports_exactly_what_is_gone(before, now, expected):
    found = missing(before, now)
    assert [f.replace('{"get": {}}', "{...}") for f in found] == expected
