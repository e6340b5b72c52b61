"""The registry: one definition per file, names used once, overlaps declared once."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import anonymize
from anonymize.detect import entities
from anonymize.detect.entities import ENTITIES, Entity, definition, entity_set, names
from anonymize.detect.entity import EntityDefinition, GivesWay, Rule
from anonymize.detect.overlap import claims, yields
from anonymize.errors import AnonymizationError

ROOT = Path(__file__).resolve().parents[5]
MODULES = sorted(m.name for m in pkgutil.iter_modules(entities.__path__))


def _own(module: str) -> list[EntityDefinition]:
    """The definitions a module of the entities package defines (not those it imports)."""
    loaded = importlib.import_module(f"anonymize.detect.entities.{module}")
    found = [v for v in vars(loaded).values() if isinstance(v, EntityDefinition)]
    return [d for d in found if d.name == getattr(loaded, "NAME", None)]


def test_registry_when_read_then_one_definition_per_module_and_every_module_registered() -> None:
    own = {module: _own(module) for module in MODULES}
    assert all(len(defs) == 1 for defs in own.values()), own
    assert sorted(d.name for defs in own.values() for d in defs) == sorted(e.name for e in ENTITIES)
    assert len({e.name for e in ENTITIES}) == len(ENTITIES) == 9


def test_entity_enum_when_built_then_registry_names_in_registry_order() -> None:
    assert [str(e) for e in Entity] == [d.name for d in ENTITIES]
    assert anonymize.Entity is Entity and anonymize.ENTITIES is ENTITIES
    assert Entity("PERSON") is Entity.PERSON
    assert [e for e in Entity if not e.is_personal] == [Entity.CN_USCC]


def test_definition_when_unknown_name_then_error_names_it() -> None:
    assert definition("CN_USCC").personal is False
    with pytest.raises(AnonymizationError, match="NOPE"):
        definition("NOPE")
    with pytest.raises(AnonymizationError, match="NOPE"):
        entity_set(["NOPE"])


def test_names_when_filtered_then_contextual_and_personal_sets() -> None:
    assert names(contextual=True) == ["CN_ADDRESS", "PERSON"]
    assert names(personal=False) == ["CN_USCC"]
    assert len(names(personal=True)) == 8


def test_definition_when_rule_names_another_entity_then_refused() -> None:
    rule = Rule("OTHER", "x", "(?s:..)", "(?s:.)")
    with pytest.raises(ValueError, match="names that entity"):
        EntityDefinition("MINE", (rule,), ())


def test_overlaps_when_declared_then_targets_registered_and_no_cycle_without_words() -> None:
    registered = {id(e) for e in ENTITIES}
    for entity in ENTITIES:
        for way in entity.gives_way:
            assert isinstance(way, GivesWay) and id(way.to) in registered
        for way in yields(entity):
            claims(way.other, "0" * 18)  # terminates: no cycle of yields without words


def test_overlaps_when_card_declares_a_contest_then_id_side_is_derived() -> None:
    card, resident = definition("BANK_CARD"), definition("CN_RESIDENT_ID")
    (derived,) = yields(resident)
    assert derived.other is card and derived.keep_without_word
    assert derived.keep == resident.context
    to_id = next(w for w in yields(card) if w.other is resident)
    assert to_id.words == derived.words  # one contest, the same words in the same order
    assert not to_id.keep_without_word


def test_names_when_read_in_the_packages_then_each_entity_name_only_in_its_own_file() -> None:
    own = {
        d.name: f"anonymize/detect/entities/{module}.py" for module in MODULES for d in _own(module)
    }
    offenders = []
    for path in sorted((ROOT / "anonymize").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in own:
                if own[node.value] != relative:
                    offenders.append((relative, node.lineno, node.value))
    assert offenders == []
