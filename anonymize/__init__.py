"""De-identification of rows and scanning of outputs (art. 37).

Map of the package:

Detection (two paths, one set of rules):

- :mod:`anonymize.entities` — :class:`Entity` (what a finding is), :class:`Span`
  and the findings schema shared by both detection paths.
- :mod:`anonymize.patterns` — the single source of truth of detection: regexes,
  boundaries and scalar validators (python-stdnum: GB 11643, GB 32100, Luhn).
- :mod:`anonymize.context` — context words (身份证, 手机, 订单号 …) and how the
  nearest one moves a score.
- :mod:`anonymize.analyzer` — the Presidio path: :func:`analyze_text` runs an
  ``AnalyzerEngine`` with the recognizers of :mod:`anonymize.recognizers` (one
  per file) on one text. Presidio and spaCy load on first use only.
- :mod:`anonymize.vector` — the polars path: :func:`scan_table` finds the same
  spans in whole tables, checksums and dates checked as expressions.
- :mod:`anonymize.scan` — the output scanner of the airlock: :func:`scan_frame`
  (a table) and :func:`scan_file` (CSV, Parquet, JSON, text).
- :mod:`anonymize.classify` — proposes a column tag from a sample's findings.

Transformation and privacy models:

- :mod:`anonymize.transforms` — per-column operators (drop, mask, pseudonym,
  generalize, redact …) declared in a spec and applied with polars.
- :mod:`anonymize.hierarchies` — generalization hierarchies for quasi-identifiers.
- :mod:`anonymize.privacy_models` — k-anonymity, l-diversity, t-closeness and
  information loss, measured.
- :mod:`anonymize.kanon` — enforcement with the least information loss.
- :mod:`anonymize.errors` — :class:`AnonymizationError`.

Every public name but the entity types loads on first use, so ``import
anonymize`` (and ``anonymize.hierarchies``, which job specs and the analysts'
client use) needs only polars and pydantic: no python-stdnum, Presidio,
spaCy or jieba, which are server dependencies.
"""

from collections.abc import Iterable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from anonymize.entities import FINDINGS_SCHEMA, Entity, Span
from anonymize.errors import AnonymizationError

if TYPE_CHECKING:
    from anonymize.patterns import is_resident_id
    from anonymize.scan import Finding, scan_file, scan_frame
    from anonymize.vector import scan_table


def analyze_text(
    text: str, entities: Iterable[Entity | str] | None = None, threshold: float = 0.5
) -> list[Span]:
    """Find personal information in one text with Presidio.

    See :func:`anonymize.analyzer.analyze_text`; defined here so that
    ``import anonymize`` does not import Presidio, spaCy or jieba.
    """
    from anonymize.analyzer import analyze_text as analyze

    return analyze(text, entities, threshold)


#: Public names that load on first use: name -> (module, attribute).
_LAZY = {
    "is_resident_id": ("anonymize.patterns", "is_resident_id"),
    "Finding": ("anonymize.scan", "Finding"),
    "scan_file": ("anonymize.scan", "scan_file"),
    "scan_frame": ("anonymize.scan", "scan_frame"),
    "scan_table": ("anonymize.vector", "scan_table"),
    "TransformSpec": ("anonymize.transforms", "TransformSpec"),
    "apply_transforms": ("anonymize.transforms", "apply"),
    "KAnonymitySpec": ("anonymize.kanon", "KAnonymitySpec"),
    "KAnonymityReport": ("anonymize.kanon", "KAnonymityReport"),
    "enforce_k_anonymity": ("anonymize.kanon", "enforce_k_anonymity"),
    "PrivacyReport": ("anonymize.privacy_models", "PrivacyReport"),
    "measure": ("anonymize.privacy_models", "measure"),
    "propose_tags": ("anonymize.classify", "propose_tags"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(import_module(module), attribute)
    raise AttributeError(f"module 'anonymize' has no attribute {name!r}")


__all__ = [
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
