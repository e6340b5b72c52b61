"""PII detection for Chinese data: two paths, one set of entity definitions.

Map of the package:

- :mod:`anonymize.detect.entity` — :class:`~anonymize.detect.entity.EntityDefinition`
  (an entity's rules, context words, validators, overlaps and examples) and
  :class:`~anonymize.detect.entity.Rule`.
- :mod:`anonymize.detect.entities` — one definition per file and the registry
  :data:`~anonymize.detect.entities.ENTITIES` (and the ``Entity`` name enum).
- :mod:`anonymize.detect.findings` — :class:`~anonymize.detect.findings.Span` and
  the findings schema shared by both paths.
- :mod:`anonymize.detect.text` — preparing a text (full-width folding, padding)
  and the boundaries identifiers share.
- :mod:`anonymize.detect.context` — how the nearest context word moves a score.
- :mod:`anonymize.detect.overlap` — where two entities meet on one span (a card
  or an ID): who takes it.
- :mod:`anonymize.detect.rules` — the rules on one text (the scalar engine).
- :mod:`anonymize.detect.recognizer` — one generic Presidio recognizer built
  from each definition, and the context enhancer.
- :mod:`anonymize.detect.analyzer` — the Presidio path:
  :func:`~anonymize.detect.analyzer.analyze_text` on one text. Presidio and
  spaCy load on first use only.
- :mod:`anonymize.detect.vector` — the polars path:
  :func:`~anonymize.detect.vector.scan_table` finds the same spans in whole
  tables (extraction in ``_extract``, checks as expressions in ``_checks``).
- :mod:`anonymize.detect.scan` — the output scanner of the airlock:
  :func:`~anonymize.detect.scan.scan_frame` and
  :func:`~anonymize.detect.scan.scan_file`.
- :mod:`anonymize.detect.classify` — proposes a column tag from a sample's findings.

Importing this package loads nothing but this map: each module loads on import.
"""
