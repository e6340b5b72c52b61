"""The registry of job kinds: every kind satisfies the protocol; a new kind needs no other file."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

from jobs.errors import InvalidJobSpec
from jobs.kinds import KINDS, JobKind, OutputShape, PartitionedKind
from jobs.spec import parse_job_spec
from policies.catalog import Product
from tests.unit.jobs.kinds.toy import Toy, ToySpec

JOBS = Path(__file__).resolve().parents[4] / "jobs"


@pytest.mark.parametrize("kind", list(KINDS), ids=lambda k: k.name)
def test_kind_when_registered_then_satisfies_the_protocol(kind: JobKind) -> None:
    assert isinstance(kind, JobKind)
    assert isinstance(kind.name, str) and kind.name
    assert isinstance(kind.spec_type, type)
    assert isinstance(kind.product, Product)
    assert isinstance(kind.untimed, bool)
    assert isinstance(kind.output_formats, frozenset)
    assert all(isinstance(f, str) for f in kind.output_formats)
    assert isinstance(kind.shape, OutputShape)
    assert isinstance(kind.description, str) and kind.description.endswith(".")
    assert isinstance(kind.partitioned, bool)
    # a kind run partition by partition has the steps the runner calls
    assert not kind.partitioned or isinstance(kind, PartitionedKind)


def test_kinds_when_listed_then_names_are_unique_and_each_is_its_spec_kind() -> None:
    names = [kind.name for kind in KINDS]
    assert len(set(names)) == len(names)
    assert list(KINDS.names()) == names
    for kind in KINDS:
        annotation = kind.spec_type.model_fields["kind"].annotation
        assert typing.get_origin(annotation) is typing.Literal
        assert typing.get_args(annotation) == (kind.name,)
        assert KINDS[kind.name] is kind


def test_kinds_when_builtin_then_in_the_order_lists_show_them() -> None:
    # the order of the spec union (its error names the kinds in it) and of every list
    assert KINDS.names()[:4] == ("aggregate", "extract", "train", "custom")


def test_registry_when_toy_kind_registered_then_parses_and_is_gone_after_the_block() -> None:
    toy = Toy()
    data = {"kind": "toy", "dataset": "residents", "note": "hi"}
    with KINDS.registered(toy):
        assert KINDS["toy"] is toy and "toy" in KINDS
        spec = parse_job_spec(data)
        assert isinstance(spec, ToySpec) and spec.note == "hi"
        # the built-ins still parse beside it
        assert parse_job_spec({"kind": "custom", "datasets": ["d"], "source": "x"}).kind == "custom"
    assert "toy" not in KINDS
    with pytest.raises(InvalidJobSpec, match="unknown 'kind'"):
        parse_job_spec(data)
    with pytest.raises(InvalidJobSpec, match="unknown job kind; use one of: aggregate, extract"):
        KINDS["toy"]


def test_registry_when_name_taken_then_refused() -> None:
    toy = Toy()
    toy.name = "custom"
    with pytest.raises(ValueError, match="registered already"):
        KINDS.register(toy)
    assert KINDS["custom"] is not toy


def test_parse_job_spec_when_unknown_kind_then_message_names_the_registered_kinds() -> None:
    with pytest.raises(InvalidJobSpec) as info:
        parse_job_spec({"kind": "export"})
    message = str(info.value)
    assert "export" not in message  # the input is not echoed
    for name in KINDS.names():
        assert f"'{name}'" in message


def test_spec_module_when_old_names_imported_then_they_are_the_kinds_classes() -> None:
    import jobs.spec
    from jobs.kinds.aggregate.spec import AggregateSpec, validate_against_schema
    from jobs.kinds.custom.spec import CustomSpec
    from jobs.kinds.extract.spec import ExtractSpec
    from jobs.kinds.train.spec import MLPModel, TrainSpec

    assert jobs.spec.AggregateSpec is AggregateSpec
    assert jobs.spec.validate_against_schema is validate_against_schema
    assert jobs.spec.MLPModel is MLPModel
    assert typing.get_args(jobs.spec.AnySpec) == (AggregateSpec, ExtractSpec, TrainSpec, CustomSpec)
    with pytest.raises(AttributeError):
        jobs.spec.NoSuchName  # noqa: B018


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_jobs_when_scanned_then_a_kind_name_is_written_only_inside_its_own_package() -> None:
    names = set(KINDS.names())
    # the registry names the built-in packages it loads, in the order lists show them
    allowed = {JOBS / "kinds" / "__init__.py": names}
    found = []
    for path in sorted(JOBS.rglob("*.py")):
        relative = path.relative_to(JOBS).parts
        own = relative[1] if relative[0] == "kinds" and len(relative) > 2 else None
        for line, value in _literals(path):
            if value in names and value != own and value not in allowed.get(path, set()):
                found.append(f"{path.relative_to(JOBS)}:{line}: {value!r}")
    assert found == []
