"""The shape of the code, read from its source: plugins own their names, one writer of a
job's status, small modules, no import cycles, unit tests that mirror the packages.

Pure and fast: the files are parsed (``ast``, Jinja's parser), never run; the registries
are imported only to learn the names. ``make lint`` adds the import contracts of
``[tool.importlinter]`` in ``pyproject.toml`` (layers, the light client, the API and the
console apart, no cycles between sibling packages).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("policies", "anonymize", "jobs", "sandbox")
#: A module longer than this needs a sentence in its docstring saying why ...
MAX_LINES = 450
#: ... and the sentence holds these words ("This module is long because ...").
LONG_BECAUSE = "long because"
#: Most modules and packages ``sandbox/`` may hold at its top level.
MAX_SANDBOX_TOP = 12
#: The one module that may write a job's status.
STATUS_WRITER = "sandbox/jobs/lifecycle.py"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _is_migration(path: Path) -> bool:
    return "migrations" in path.relative_to(ROOT).parts


def _package_files(suffix: str = "*.py") -> list[Path]:
    """The packages' files (migrations left out: they are history, frozen)."""
    return sorted(f for pkg in PACKAGES for f in (ROOT / pkg).rglob(suffix) if not _is_migration(f))


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# --- (a) a plugin's name is a literal only in the plugin ---------------------------------


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring constants (prose may name anything)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _python_literals(path: Path) -> Iterator[tuple[str, int]]:
    """Every string constant of a module but its docstrings, with its line."""
    tree = _parse(path)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.value, node.lineno


def _template_literals(path: Path) -> Iterator[tuple[str, int]]:
    """Every string constant of a Jinja template's expressions and tags, with its line."""
    from jinja2 import Environment, nodes

    tree = Environment().parse(path.read_text(encoding="utf-8"))
    for node in tree.find_all(nodes.Const):
        if isinstance(node.value, str):
            yield node.value, node.lineno


@dataclass(frozen=True)
class Literal:
    file: str
    line: int


def _literals(names: set[str]) -> dict[str, list[Literal]]:
    """Where each of ``names`` appears as a string literal in the packages' code and templates."""
    found: dict[str, list[Literal]] = {name: [] for name in names}
    sources = [(f, _python_literals) for f in _package_files()] + [
        (f, _template_literals) for f in _package_files("*.html")
    ]
    for path, read in sources:
        for value, line in read(path):
            if value in found:
                found[value].append(Literal(_rel(path), line))
    return found


def _registry_names(registry: object) -> list[str]:
    """The names a registry holds: a mapping's keys, ``names()``, or each item's name."""
    if isinstance(registry, Mapping):
        return [str(k) for k in registry]
    names = getattr(registry, "names", None)
    if callable(names):
        return [str(n) for n in names()]
    assert isinstance(registry, Iterable), f"not a registry: {registry!r}"
    return [_item_name(item) for item in registry]


def _item_name(item: object) -> str:
    for attr in ("name", "NAME"):
        value = getattr(item, attr, None)
        if isinstance(value, str):
            return value
    raise AssertionError(f"registry item {item!r} has no name (nor NAME)")


def _registry(module: str, attr: str) -> object:
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise AssertionError(f"the registry {module}.{attr} is missing: {err}") from err


def _kinds() -> dict[str, str]:
    """Each kind's name -> its home (a folder ``jobs/kinds/<kind>/``)."""
    from jobs.kinds import KINDS

    return {name: f"jobs/kinds/{name}/" for name in _registry_names(KINDS)}


def _module_homes(registry: object, folder: str) -> dict[str, str]:
    """Each plugin's name -> its home: the module it is, or the one file of ``folder``
    (``__init__`` aside) that spells its name (a plugin that never spells it has none)."""
    items: Iterable[object] = registry.values() if isinstance(registry, Mapping) else registry  # type: ignore[assignment, attr-defined]
    names = _registry_names(registry)
    literals = _literals(set(names))
    homes: dict[str, str] = {}
    for name, item in zip(names, items, strict=True):
        module = item if inspect.ismodule(item) else None
        if isinstance(module, ModuleType) and module.__file__:
            homes[name] = _rel(Path(module.__file__))
            continue
        spelled = sorted(
            {
                lit.file
                for lit in literals[name]
                if lit.file.startswith(folder) and not lit.file.endswith("/__init__.py")
            }
        )
        assert len(spelled) <= 1, f"{name!r} is spelled in several plugin files: {spelled}"
        homes[name] = spelled[0] if spelled else f"{folder}<no file spells {name!r}>"
    return homes


def _checks() -> dict[str, str]:
    """Each check's name -> its module ``sandbox/checks/<check>.py``."""
    try:
        registry = _registry("sandbox.checks", "CHECKS")
    except AssertionError:
        registry = _registry("sandbox.checks.registry", "CHECKS")
    return _module_homes(registry, "sandbox/checks/")


def _entities() -> dict[str, str]:
    """Each entity's name -> its module ``anonymize/detect/entities/<entity>.py``."""
    return _module_homes(
        _registry("anonymize.detect.entities", "ENTITIES"), "anonymize/detect/entities/"
    )


#: (name, where) pairs that spell a plugin's name for another reason: each says why.
#: ``where`` is a file or a folder (ending in /).
UNRELATED: dict[tuple[str, str], str] = {
    # policies/anonymize/jobs sit below sandbox.checks: they never see a check's verdict.
    ("size", "anonymize/"): "the class-size column of k-anonymity statistics (polars)",
    ("pii_scan", "jobs/kinds/extract/"): "the extract's run report field (API JSON)",
}


def _unrelated(name: str, file: str) -> bool:
    return any(
        n == name and (file == where or (where.endswith("/") and file.startswith(where)))
        for n, where in UNRELATED
    )


def _outside_home(homes: dict[str, str]) -> dict[str, list[str]]:
    found = _literals(set(homes))
    outside = {
        f"{name} (home: {homes[name]})": [
            f"{lit.file}:{lit.line}"
            for lit in sorted(where, key=lambda lit: (lit.file, lit.line))
            if not _owned(homes[name], lit.file) and not _unrelated(name, lit.file)
        ]
        for name, where in sorted(found.items())
    }
    return {name: where for name, where in outside.items() if where}


def _owned(home: str, file: str) -> bool:
    return file.startswith(home) if home.endswith("/") else file == home


@pytest.mark.parametrize(
    "family, homes",
    [
        pytest.param("kind", _kinds, id="kinds"),
        pytest.param("check", _checks, id="checks"),
        pytest.param("entity", _entities, id="entities"),
    ],
)
def test_plugin_names_when_spelled_as_literals_then_only_in_their_own_plugin(family, homes):
    """A kind's, check's or entity's name is a string literal (Python constant outside a
    docstring, or a constant in a console template) only in its own plugin: the rest of
    the code looks plugins up in their registry and never branches on a name."""
    registered = homes()
    assert registered, f"no {family} is registered"
    homeless = {n: h for n, h in registered.items() if "<" not in h and not (ROOT / h).exists()}
    assert homeless == {}, f"each {family} lives in its own plugin; these have none: {homeless}"
    offenders = _outside_home(registered)
    assert offenders == {}, (
        f"each {family}'s name may be a literal only in its own plugin; "
        f"look it up in the registry instead (name: files):\n"
        + "\n".join(f"  {k}: {', '.join(v)}" for k, v in offenders.items())
    )


def test_name_literals_when_scanning_then_docstrings_and_templates_are_read_right(tmp_path):
    """The scanner itself: docstrings are prose; code constants and template constants count."""
    module = tmp_path / "m.py"
    module.write_text(
        '"""aggregate"""\n'
        "def f():\n"
        '    """aggregate"""\n'
        '    return "aggregate", f"aggregate {1}"\n',
        encoding="utf-8",
    )
    assert [line for value, line in _python_literals(module) if value == "aggregate"] == [4]
    page = tmp_path / "p.html"
    page.write_text(
        'aggregate <b>{{ kind }}</b>\n{% if kind == "aggregate" %}x{% endif %}', encoding="utf-8"
    )
    assert list(_template_literals(page)) == [("aggregate", 2)]


# --- (b) one writer of a job's status -------------------------------------------------------


def _mentions_job(node: ast.AST) -> bool:
    return any(
        (isinstance(n, ast.Name) and n.id == "Job")
        or (isinstance(n, ast.Attribute) and n.attr == "Job")
        for n in ast.walk(node)
    )


def _status_writes(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every statement that may write a job's status, with its line and what it is."""
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for t in ast.walk(target):  # tuples too: a.status, b = ...
                if isinstance(t, ast.Attribute) and t.attr == "status":
                    yield node.lineno, "assigns .status"
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        keywords = {k.arg for k in node.keywords}
        if called == "Job" and "status" in keywords:
            yield node.lineno, "Job(status=...)"
        elif called == "setattr" and len(node.args) >= 2:
            attr = node.args[1]
            if isinstance(attr, ast.Constant) and attr.value == "status":
                yield node.lineno, "setattr(..., 'status', ...)"
        elif called == "values" and "status" in keywords and _mentions_job(func):
            yield node.lineno, "update(Job).values(status=...)"
        elif called == "update" and _mentions_job(func):
            for arg in node.args:
                if isinstance(arg, ast.Dict) and any(
                    (isinstance(k, ast.Constant) and k.value == "status")
                    or (isinstance(k, ast.Attribute) and k.attr == "status")
                    for k in arg.keys
                ):
                    yield node.lineno, "query(Job).update({status: ...})"


def test_job_status_when_written_then_only_by_the_lifecycle_module():
    """Only ``transition(...)`` (sandbox/jobs/lifecycle.py) writes ``Job.status``:
    submission, execution, review, release and recovery all call it."""
    offenders = sorted(
        f"{_rel(path)}:{line}: {what}"
        for path in _package_files()
        if _rel(path) != STATUS_WRITER
        for line, what in _status_writes(_parse(path))
    )
    assert offenders == [], "call sandbox.jobs.lifecycle.transition(...) instead:\n" + "\n".join(
        offenders
    )
    assert (ROOT / STATUS_WRITER).is_file(), f"{STATUS_WRITER}, the one writer, is missing"


def test_status_writes_when_scanning_then_every_form_is_seen():
    source = (
        "job.status = 'x'\n"
        "job.status += 'x'\n"
        "a.status, b = 1, 2\n"
        "Job(id=1, status='queued')\n"
        "models.Job(status='queued')\n"
        "setattr(job, 'status', 'x')\n"
        "session.execute(update(Job).where(Job.id == 1).values(status='x'))\n"
        "session.query(Job).update({Job.status: 'x'})\n"
        "audit.append(db, status=job.status)\n"  # reads it: fine
        "x = job.status\n"  # reads it: fine
    )
    assert sorted(line for line, _ in _status_writes(ast.parse(source))) == [1, 2, 3, 4, 5, 6, 7, 8]


# --- (c), (d) the size of things ------------------------------------------------------------


def test_sandbox_when_listing_its_top_level_then_at_most_twelve_modules_and_packages():
    top = sorted(
        p.name
        for p in (ROOT / "sandbox").iterdir()
        if (p.is_dir() and (p / "__init__.py").is_file())
        or (p.suffix == ".py" and p.name != "__init__.py")
    )
    assert len(top) <= MAX_SANDBOX_TOP, f"{len(top)} at sandbox/'s top level: {top}"


def test_modules_when_longer_than_450_lines_then_their_docstring_says_why():
    """A module over 450 lines says why in its docstring, in a sentence holding the words
    "long because" (e.g. "This module is long because the jail's steps must stay in one
    reviewed place")."""
    offenders = []
    for path in _package_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        doc = " ".join((ast.get_docstring(_parse(path)) or "").split()).lower()
        if lines > MAX_LINES and LONG_BECAUSE not in doc:
            offenders.append(f"{_rel(path)} ({lines} lines)")
    assert offenders == [], (
        f"split these modules, or say in their docstring why they are long "
        f"(a sentence with the words {LONG_BECAUSE!r}):\n" + "\n".join(offenders)
    )


# --- (e) tests/unit mirrors the packages ----------------------------------------------------


def test_unit_tests_when_in_a_folder_then_the_folder_mirrors_a_package():
    """tests/unit/<pkg>/<sub>/test_x.py tests <pkg>/<sub>/; cross-cutting tests sit at
    tests/unit's top."""
    unit = ROOT / "tests" / "unit"
    folders = sorted({f.parent for f in unit.rglob("test_*.py")} - {unit})
    assert folders, "no unit test sits in a package's folder"
    offenders = [
        _rel(folder)
        for folder in folders
        if not (ROOT / folder.relative_to(unit) / "__init__.py").is_file()
    ]
    assert offenders == [], "these tests/unit folders mirror no package: " + ", ".join(offenders)


# --- no import cycles -----------------------------------------------------------------------

#: Import cycles between modules the project lives with, each with its reason (target: none).
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def _cycles() -> list[list[str]]:
    """The strongly connected groups of modules (more than one), imports under
    ``TYPE_CHECKING`` and inside functions included: a cycle is one however it is hidden."""
    import grimp

    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iterative
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for module in edges:
        if module not in index:
            visit(module)
    return sorted(groups)


def test_imports_when_followed_then_no_module_comes_back_to_itself():
    cycles = [c for c in _cycles() if frozenset(c) not in KNOWN_CYCLES]
    assert cycles == [], "import cycles (move the shared part down a layer):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )
    present = {frozenset(c) for c in _cycles()}
    stale = [sorted(c) for c in KNOWN_CYCLES if c not in present]
    assert stale == [], f"these known cycles are gone: drop them from KNOWN_CYCLES: {stale}"
