"""One Presidio recognizer for any entity definition, and the context enhancer.

Importing this module imports Presidio; ``import anonymize`` does not.
:class:`DefinitionRecognizer` runs the rules of one
:class:`~anonymize.detect.entity.EntityDefinition` on a text (the scalar
engine of :mod:`anonymize.detect.rules`); :func:`build_registry` builds one
for each entity of :data:`~anonymize.detect.entities.ENTITIES`.
:class:`NearestWordContextEnhancer` applies the context rule of
:func:`anonymize.detect.context.context_score`. Both are Presidio classes, so
an ``AnalyzerEngine`` runs them like its own.

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

from presidio_analyzer import EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymize.detect.context import CONTEXT_BOOST, CONTEXT_FLOOR, CONTEXT_WINDOW, context_score
from anonymize.detect.entities import ENTITIES, definition
from anonymize.detect.entity import EntityDefinition
from anonymize.detect.rules import find_spans, normalize

LANGUAGE = "zh"


def recognizer_name(entity: EntityDefinition) -> str:
    """The recognizer's name in Presidio's results: the entity's name in CamelCase.

    >>> recognizer_name(ENTITIES[0]).endswith("Recognizer")
    True
    """
    return "".join(part.capitalize() for part in entity.name.split("_")) + "Recognizer"


class DefinitionRecognizer(EntityRecognizer):
    """Finds one entity with the rules of its definition.

    Args:
        entity: The definition; its context words are the recognizer's, so that
            the polars path reads the same.
    """

    def __init__(self, entity: EntityDefinition) -> None:
        self.definition = entity
        super().__init__(
            supported_entities=[entity.name],
            name=recognizer_name(entity),
            supported_language=LANGUAGE,
            context=list(entity.context),
        )

    def load(self) -> None:
        """Nothing to load: the rules are compiled at import."""

    def spans(self, text: str) -> list[tuple[int, int, float]]:
        """``(start, end, base score)`` of every valid match in the normalized ``text``."""
        entity = self.definition
        return [span for rule in entity.rules for span in find_spans(entity, rule, text)]

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Presidio's entry point: results with base scores (context comes after).

        Args:
            text: The text as given; normalized here (offsets do not move).
            entities: Entities asked for; nothing is found if ours is not one.
            nlp_artifacts: Unused; the rules read characters, not tokens.
        """
        name = self.definition.name
        if entities and name not in entities:
            return []
        return [
            RecognizerResult(
                entity_type=name,
                start=start,
                end=end,
                score=score,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: recognizer_name(self.definition),
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for start, end, score in self.spans(normalize(text))
        ]


def build_registry() -> RecognizerRegistry:
    """A registry for Chinese (``zh``) holding one recognizer per entity definition.

    >>> registry = build_registry()
    >>> len(registry.recognizers) == len(ENTITIES)
    True
    """
    return RecognizerRegistry(
        recognizers=[DefinitionRecognizer(entity) for entity in ENTITIES],
        supported_languages=[LANGUAGE],
    )


class NearestWordContextEnhancer(ContextAwareEnhancer):
    """Presidio context enhancement by the nearest context word in a character window.

    See :func:`anonymize.detect.context.context_score`: the supporting word
    nearest before a span adds :data:`~anonymize.detect.context.CONTEXT_BOOST`
    (Presidio's default factor), a word naming an order or invoice number
    halves the score.
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
        known = {entity.name for entity in ENTITIES}
        results = []
        for result in raw_results:
            if result.entity_type in known:
                score = context_score(
                    definition(result.entity_type), prepared, result.start, result.score
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
