"""The word lists behind names: surnames, stop characters, jieba's common words."""

from __future__ import annotations

import pytest
from faker.providers.person.zh_CN import Provider

from anonymize.detect import _names


def test_surnames_when_compared_with_faker_then_every_faker_surname_known() -> None:
    known = set(_names.SURNAMES) | set(_names.COMPOUND_SURNAMES)
    assert set(Provider.last_names) <= known
    assert set(_names.SAFE_SURNAMES) <= set(_names.SURNAMES)


def test_name_stop_when_compared_with_faker_given_names_then_no_overlap() -> None:
    given = {c for name in Provider.first_names for c in name}
    assert given & set(_names.NAME_STOP) == set()


@pytest.mark.parametrize(
    ("word", "common"),
    [
        ("高中", True),  # education level
        ("江苏", True),  # a province
        ("谢谢", True),  # jieba tags it nr, but it is far too frequent to be a name
        ("文化", True),  # a noun
        ("张伟", False),  # a name
        ("李欣", False),  # a name
        ("黄东", False),  # listed as a place (ns) with frequency 2: too rare to stop a name
        ("高利", False),  # a noun (usury) with frequency 56: rarer than the name reading
    ],
)
def test_common_words_when_word_then_dictionary_decides(word: str, common: bool) -> None:
    assert (word in _names.common_words()) is common


def test_follow_words_when_listed_then_each_starts_with_a_word_start_stop_character() -> None:
    assert set(_names.NAME_WORD_STARTS) <= set(_names.NAME_STOP)
    assert {word[0] for word in _names.FOLLOW_WORDS} <= set(_names.NAME_WORD_STARTS)
    assert max(len(word) for word in _names.FOLLOW_WORDS) == _names.FOLLOW_WIDTH


def test_common_words_when_no_jieba_then_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_names, "_jieba_dictionary", lambda: None)
    _names._dictionary.cache_clear()
    _names.common_words.cache_clear()
    try:
        assert _names.common_words() == frozenset()
    finally:
        _names._dictionary.cache_clear()
        _names.common_words.cache_clear()
