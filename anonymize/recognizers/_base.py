"""The shared recognizer and context enhancer behind the per-entity recognizer files.

Not API. A :class:`RuleRecognizer` runs the rules of one entity from
:mod:`anonymize.patterns` on a text; :class:`NearestWordContextEnhancer`
applies the context rule of :func:`anonymize.context.context_score`. Both are
Presidio classes, so an ``AnalyzerEngine`` runs them like its own.

Why not Presidio's ``PatternRecognizer`` and ``LemmaContextAwareEnhancer``:
the lemma enhancer matches context words against spaCy tokens, and the blank
Chinese pipeline (no model can be downloaded) splits text into single
characters, so a context word like 身份证 never matches a token; it also
reads a fixed number of tokens, which the polars path cannot mirror, and its
error for a misaligned token quotes the matched text. Reading a window of
characters instead gives both paths the same rule, and no message carries a
value.
"""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymize.context import (
    CONTEXT,
    CONTEXT_BOOST,
    CONTEXT_FLOOR,
    CONTEXT_WINDOW,
    context_score,
)
from anonymize.entities import Entity
from anonymize.patterns import RULES, find_spans, normalize

LANGUAGE = "zh"


class RuleRecognizer(EntityRecognizer):
    """Finds one entity with its rules from :data:`anonymize.patterns.RULES`.

    Subclasses set :attr:`ENTITY`; their context words come from
    :data:`anonymize.context.CONTEXT` so that the polars path reads the same.
    """

    ENTITY: ClassVar[Entity]

    def __init__(self) -> None:
        self.rules = tuple(rule for rule in RULES if rule.entity is self.ENTITY)
        super().__init__(
            supported_entities=[self.ENTITY.value],
            name=type(self).__name__,
            supported_language=LANGUAGE,
            context=list(CONTEXT[self.ENTITY]),
        )

    def load(self) -> None:
        """Nothing to load: the rules are compiled at import."""

    def spans(self, text: str) -> list[tuple[int, int, float]]:
        """``(start, end, base score)`` of every valid match in the normalized ``text``."""
        return [span for rule in self.rules for span in find_spans(rule, text)]

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Presidio's entry point: results with base scores (context comes after).

        Args:
            text: The text as given; normalized here (offsets do not move).
            entities: Entities asked for; nothing is found if ours is not one.
            nlp_artifacts: Unused; the rules read characters, not tokens.
        """
        if entities and self.ENTITY.value not in entities:
            return []
        return [
            RecognizerResult(
                entity_type=self.ENTITY.value,
                start=start,
                end=end,
                score=score,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for start, end, score in self.spans(normalize(text))
        ]


class NearestWordContextEnhancer(ContextAwareEnhancer):
    """Presidio context enhancement by the nearest context word in a character window.

    See :func:`anonymize.context.context_score`: the supporting word nearest
    before a span adds :data:`~anonymize.context.CONTEXT_BOOST` (Presidio's
    default factor), a word naming an order or invoice number halves the score.
    """

    def __init__(self) -> None:
        super().__init__(
            context_similarity_factor=CONTEXT_BOOST,
            min_score_with_context_similarity=CONTEXT_FLOOR,
            context_prefix_count=CONTEXT_WINDOW,
            context_suffix_count=0,
        )

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Rescore every result of a known entity; a caller's ``context`` words are unused."""
        prepared = normalize(text)
        results = []
        for result in raw_results:
            if result.entity_type in Entity.__members__:
                score = context_score(
                    Entity(result.entity_type), prepared, result.start, result.score
                )
                if score != result.score:
                    metadata = dict(result.recognition_metadata or {})
                    metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
                    result = RecognizerResult(
                        result.entity_type,
                        result.start,
                        result.end,
                        score,
                        result.analysis_explanation,
                        metadata,
                    )
            results.append(result)
        return results
