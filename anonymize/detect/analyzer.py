"""Find personal information in one text with Presidio: the per-text detection path.

A Presidio ``AnalyzerEngine`` for Chinese (``zh``) with the recognizers of
:mod:`anonymize.detect.recognizer` (one per entity definition) and the
character-window context enhancer. It finds the same spans with the same
scores as :func:`anonymize.detect.vector.scan_table`, names included (the rules
live in :mod:`anonymize.detect.entities`; names use jieba's dictionary and its
tags, read once, not its per-text tagger).

No spaCy model for Chinese can be downloaded here, so the engine runs on a
blank ``spacy.blank("zh")`` pipeline (character segmenter, no pkuseg, no
download), saved to a temporary folder and loaded through Presidio's
``SpacyNlpEngine``; the recognizers read characters, not tokens. Presidio
and spaCy are imported on the first call, not with :mod:`anonymize`.
The engine is built once per process, under a lock.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from anonymize.detect.entities import entity_set
from anonymize.detect.findings import Span

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

_LOCK = threading.Lock()
_ENGINE: AnalyzerEngine | None = None


def _build() -> AnalyzerEngine:
    """A Presidio engine on a blank Chinese spaCy pipeline with our recognizers."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from anonymize.detect.recognizer import (
        LANGUAGE,
        NearestWordContextEnhancer,
        build_registry,
    )

    class BlankSpacyNlpEngine(SpacyNlpEngine):
        """Presidio's spaCy engine without GPU detection (it imports torch for a tokenizer)."""

        def _enable_gpu(self) -> None:
            return None

    # The character segmenter is the blank pipeline's default; say so, so that
    # a changed default can never reach for pkuseg or a download.
    nlp = spacy.blank(LANGUAGE, config={"nlp": {"tokenizer": {"segmenter": "char"}}})
    with tempfile.TemporaryDirectory(prefix="anonymize-spacy-") as folder:
        nlp.to_disk(folder)
        nlp_engine = BlankSpacyNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": folder}])
        nlp_engine.load()  # reads everything into memory: the folder may go
    return AnalyzerEngine(
        registry=build_registry(),
        nlp_engine=nlp_engine,
        supported_languages=[LANGUAGE],
        context_aware_enhancer=NearestWordContextEnhancer(),
    )


def engine() -> AnalyzerEngine:
    """The process's analyzer engine, built on first use (a second or two: Presidio, spaCy)."""
    global _ENGINE
    if _ENGINE is None:
        with _LOCK:
            if _ENGINE is None:
                _ENGINE = _build()
    return _ENGINE


def analyze_text(
    text: str,
    entities: Iterable[str] | None = None,
    threshold: float = 0.5,
    *,
    fuse: bool = True,
) -> list[Span]:
    """Find personal information in ``text`` with Presidio.

    Args:
        text: Any text.
        entities: Entity names to look for (default: all of
            :data:`~anonymize.detect.entities.ENTITIES`).
        threshold: Smallest score reported, after context.
        fuse: Read a free text with the trained tagger too
            (:mod:`anonymize.detect.fusion`); ``False`` runs the rules alone.

    Returns:
        Spans in order of start, with code-point offsets into ``text``.

    Raises:
        AnonymizationError: An unknown entity name.

    Example:
        >>> [(s.start, s.end) for s in analyze_text("手机13912345678。")]  # the phone number
        [(2, 13)]
    """
    wanted = sorted(entity_set(entities))
    from anonymize.detect.recognizer import LANGUAGE

    results = engine().analyze(
        text=text, language=LANGUAGE, entities=wanted, score_threshold=threshold
    )
    found = sorted(Span(r.start, r.end, r.entity_type, float(r.score)) for r in results)
    from anonymize.detect import fusion

    if not fuse or not fusion.FUSED & set(wanted) or not fusion.is_free_text(text):
        return found
    fused = fusion.fuse_texts([text], [found], frozenset(wanted))[0]
    return [s for s in fused if s.score >= threshold]
