"""Context words move scores the same way in both paths (nearest word in a window)."""

from __future__ import annotations

import re

import polars as pl
import pytest

from anonymize.detect.context import (
    CONTEXT_WINDOW,
    NEGATIVE_CONTEXT,
    context_regex,
    context_score,
)
from anonymize.detect.entities import ENTITIES, definition
from anonymize.detect.entity import EntityDefinition

PHONE = "13912345678"


@pytest.mark.parametrize(
    ("prefix", "score"),
    [
        ("", 0.75),  # no context
        ("手机", 1.0),  # a supporting word: +0.35, at most 1
        ("MOBILE: ", 1.0),  # words match case-insensitively
        ("订单号", 0.375),  # a word naming an order number halves the score
        ("订单号123，手机", 1.0),  # the nearest word decides
        ("手机号码不是，订单号", 0.375),  # the nearest word decides, the other way
        ("手机" + "x" * (CONTEXT_WINDOW - 1), 0.75),  # the word is out of the window
        ("手机" + "x" * (CONTEXT_WINDOW - 2), 1.0),  # the word just fits the window
        ("邮箱", 0.75),  # a word of another entity does nothing
    ],
)
def test_context_score_when_words_before_span_then_score_moves(prefix: str, score: float) -> None:
    text = prefix + PHONE
    assert context_score(definition("PHONE_NUMBER"), text, len(prefix), 0.75) == pytest.approx(
        score
    )


def test_context_score_when_floor_then_low_scores_lifted_to_it() -> None:
    assert context_score(definition("CN_PASSPORT"), "护照E12345678", 2, 0.01) == pytest.approx(0.4)


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_context_words_when_listed_then_plain_and_same_in_both_engines(
    entity: EntityDefinition,
) -> None:
    words = entity.context + NEGATIVE_CONTEXT
    assert all(re.fullmatch(r"[a-z\- \u4e00-\u9fff]+", w) for w in words)
    windows = [w + "x" for w in words] + ["无关的文字"]
    regex = context_regex(entity)
    python = [(m.group(1) if (m := re.match(regex, w)) else None) for w in windows]
    rust = pl.Series(windows).str.extract(regex, 1).to_list()
    assert python == rust
