"""The entities, one definition per file, and the registry :data:`ENTITIES`.

Adding an entity is one file here holding its
:class:`~anonymize.detect.entity.EntityDefinition` and one line in
:data:`ENTITIES`: both detection paths, the Presidio recognizers, the
context rule and the path-agreement tests read it from there.

- :mod:`.resident_id` — resident ID numbers (GB 11643)
- :mod:`.phone` — mobiles and landlines
- :mod:`.email` — e-mail addresses
- :mod:`.bank_card` — bank cards (Luhn); gives way to an ID without a card word
- :mod:`.passport` — passport numbers
- :mod:`.license_plate` — licence plates
- :mod:`.address` — street-level addresses
- :mod:`.uscc` — unified social credit codes (GB 32100), an organisation's
- :mod:`.person` — personal names (surnames, context, jieba's dictionary)
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from anonymize.detect.entities.address import ADDRESS
from anonymize.detect.entities.bank_card import BANK_CARD
from anonymize.detect.entities.email import EMAIL
from anonymize.detect.entities.license_plate import LICENSE_PLATE
from anonymize.detect.entities.passport import PASSPORT
from anonymize.detect.entities.person import PERSON
from anonymize.detect.entities.phone import PHONE
from anonymize.detect.entities.resident_id import RESIDENT_ID
from anonymize.detect.entities.uscc import USCC
from anonymize.detect.entity import EntityDefinition
from anonymize.errors import AnonymizationError

#: Every entity, in the order the vector path searches for them and lists findings that
#: start at one place.
ENTITIES: tuple[EntityDefinition, ...] = (
    RESIDENT_ID,
    PHONE,
    EMAIL,
    BANK_CARD,
    PASSPORT,
    LICENSE_PLATE,
    ADDRESS,
    USCC,
    PERSON,
)

_BY_NAME = {definition.name: definition for definition in ENTITIES}


class EntityName(StrEnum):
    """An entity's name; :data:`Entity` lists the registered ones."""

    @property
    def is_personal(self) -> bool:
        """Whether the entity identifies a natural person (a USCC identifies an organisation)."""
        return definition(self).personal


#: What a finding is, one member per entity of :data:`ENTITIES` (``Entity(name)``).
Entity: type[EntityName] = EntityName(  # type: ignore[call-arg, assignment]
    "Entity", [(d.name, d.name) for d in ENTITIES], module=__name__
)


def definition(name: str) -> EntityDefinition:
    """The definition of the entity named ``name``.

    Raises:
        AnonymizationError: No entity has that name.
    """
    try:
        return _BY_NAME[str(name)]
    except KeyError:
        raise AnonymizationError(
            f"unknown entity name {name!s}; use the names of anonymize.Entity"
        ) from None


def entity_set(entities: Iterable[str] | None) -> frozenset[str]:
    """The names of the entities asked for (all when None).

    Raises:
        AnonymizationError: A name is not one of :data:`ENTITIES`.
    """
    if entities is None:
        return frozenset(_BY_NAME)
    names = [str(e) for e in entities]
    unknown = sorted(n for n in names if n not in _BY_NAME)
    if unknown:
        raise AnonymizationError(
            f"unknown entity name(s) {', '.join(unknown)}; use the names of anonymize.Entity"
        )
    return frozenset(names)


def names(*, personal: bool | None = None, contextual: bool | None = None) -> list[str]:
    """Names of the registered entities, in registry order, optionally filtered.

    Args:
        personal: Only those that identify a natural person (True) or not (False).
        contextual: Only those found by dictionaries and context (True) or not (False).

    >>> len(names()), len(names(personal=False))
    (9, 1)
    """
    return [
        d.name
        for d in ENTITIES
        if (personal is None or d.personal is personal)
        and (contextual is None or d.contextual is contextual)
    ]


__all__ = ["ENTITIES", "Entity", "EntityName", "definition", "entity_set", "names"]
