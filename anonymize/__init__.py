"""De-identification of rows and scanning of outputs (art. 37).

Map of the package:

Detection (two paths, one set of entity definitions): :mod:`anonymize.detect`.

- :mod:`anonymize.detect.entities` — one definition per entity (rules, context
  words, scalar and polars validators, overlaps) and the registry ``ENTITIES``;
  :data:`Entity` names them.
- :mod:`anonymize.detect.analyzer` — the Presidio path: :func:`analyze_text`
  runs an ``AnalyzerEngine`` with one generic recognizer per definition on one
  text. Presidio and spaCy load on first use only.
- :mod:`anonymize.detect.vector` — the polars path: :func:`scan_table` finds the
  same spans in whole tables, checksums and dates checked as expressions.
- :mod:`anonymize.detect.scan` — the output scanner of the airlock:
  :func:`scan_frame` (a table) and :func:`scan_file` (CSV, Parquet, JSON, text).
- :mod:`anonymize.detect.classify` — proposes a column tag from a sample's findings.
- :mod:`anonymize.detect.findings` — :class:`Span` and the findings schema
  shared by both detection paths.

Transformation and privacy models:

- :mod:`anonymize.transforms` — per-column operators (drop, mask, pseudonym,
  generalize, redact …) declared in a spec and applied with polars.
- :mod:`anonymize.hierarchies` — generalization hierarchies for quasi-identifiers.
- :mod:`anonymize.taxonomies` — published classifications (Jiangsu's divisions,
  school stages, GB/T 6565 occupations) that give categories middle levels.
- :mod:`anonymize.privacy_models` — k-anonymity, l-diversity, t-closeness and
  information loss, measured.
- :mod:`anonymize.nu_entropy` — ARX's precomputed non-uniform entropy.
- :mod:`anonymize.kanon` — enforcement with the least information loss (NCP or
  non-uniform entropy); its search is :mod:`anonymize._search`, its node checks
  :mod:`anonymize._classes` (numpy).
- :mod:`anonymize.errors` — :class:`AnonymizationError`.

Every public name but the finding types loads on first use, so ``import
anonymize`` (and ``anonymize.hierarchies``, which job specs and the analysts'
client use) needs only polars and pydantic: no python-stdnum, numpy,
Presidio, spaCy or jieba, which are server dependencies.
"""

from collections.abc import Iterable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from anonymize.detect.findings import FINDINGS_SCHEMA, Span
from anonymize.errors import AnonymizationError

if TYPE_CHECKING:
    from anonymize.detect.entities import ENTITIES, Entity
    from anonymize.detect.entities.resident_id import is_resident_id
    from anonymize.detect.scan import Finding, scan_file, scan_frame
    from anonymize.detect.vector import scan_table


def analyze_text(
    text: str, entities: Iterable[str] | None = None, threshold: float = 0.5
) -> list[Span]:
    """Find personal information in one text with Presidio.

    See :func:`anonymize.detect.analyzer.analyze_text`; defined here so that
    ``import anonymize`` does not import Presidio, spaCy or jieba.
    """
    from anonymize.detect.analyzer import analyze_text as analyze

    return analyze(text, entities, threshold)


#: Public names that load on first use: name -> (module, attribute).
_LAZY = {
    "ENTITIES": ("anonymize.detect.entities", "ENTITIES"),
    "Entity": ("anonymize.detect.entities", "Entity"),
    "is_resident_id": ("anonymize.detect.entities.resident_id", "is_resident_id"),
    "Finding": ("anonymize.detect.scan", "Finding"),
    "scan_file": ("anonymize.detect.scan", "scan_file"),
    "scan_frame": ("anonymize.detect.scan", "scan_frame"),
    "scan_table": ("anonymize.detect.vector", "scan_table"),
    "TransformSpec": ("anonymize.transforms", "TransformSpec"),
    "apply_transforms": ("anonymize.transforms", "apply"),
    "KAnonymitySpec": ("anonymize.kanon", "KAnonymitySpec"),
    "KAnonymityReport": ("anonymize.kanon", "KAnonymityReport"),
    "enforce_k_anonymity": ("anonymize.kanon", "enforce_k_anonymity"),
    "PrivacyReport": ("anonymize.privacy_models", "PrivacyReport"),
    "measure": ("anonymize.privacy_models", "measure"),
    "propose_tags": ("anonymize.detect.classify", "propose_tags"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(import_module(module), attribute)
    raise AttributeError(f"module 'anonymize' has no attribute {name!r}")


__all__ = [
    "ENTITIES",
    "FINDINGS_SCHEMA",
    "AnonymizationError",
    "Entity",
    "Finding",
    "KAnonymityReport",
    "KAnonymitySpec",
    "PrivacyReport",
    "Span",
    "TransformSpec",
    "analyze_text",
    "apply_transforms",
    "enforce_k_anonymity",
    "is_resident_id",
    "measure",
    "propose_tags",
    "scan_file",
    "scan_frame",
    "scan_table",
]
