"""Chinese personal names: the shared rules plus jieba part-of-speech tags.

No spaCy model for Chinese can be downloaded here, so names come from:

- the rules both paths share (:data:`anonymize.patterns.RULES`): a surname
  and one or two given-name characters after a context word (姓名, 联系人,
  收件人 …), before an honorific (先生, 女士 …), or opening a run of Chinese
  (a whole cell, a field, the subject of a clause);
- jieba's tagger: a token tagged ``nr`` (person name) that starts with a
  surname, or a surname token joined to the next one when either is tagged
  ``nr`` (jieba often splits 唐建华 into 唐 / 建华).

Context words (姓名, 联系人, 客户 …) then raise scores through the context
enhancer. Tokens inside a rule's span or an address are not reported.
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import Any

from anonymize._names import COMPOUND_SURNAMES, NAME_STOP, SURNAMES
from anonymize.entities import Entity
from anonymize.patterns import RULES, find_spans, is_person_name
from anonymize.recognizers._base import RuleRecognizer

#: Base score of a name found by jieba alone.
JIEBA_SCORE = 0.6
_LOCK = threading.Lock()
_SURNAME_SET = frozenset(SURNAMES) | frozenset(COMPOUND_SURNAMES)
_STOP = frozenset(NAME_STOP)
_ADDRESS = next(rule for rule in RULES if rule.entity is Entity.CN_ADDRESS)


def _posseg() -> Any:
    """jieba's tagger, imported and initialized once, quietly."""
    with _LOCK, warnings.catch_warnings():
        # jieba 0.42 may warn about pkg_resources on import and logs to stderr.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        import jieba
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        return jieba.posseg


def _given(chars: str) -> bool:
    return all("\u4e00" <= c <= "\u9fff" and c not in _STOP for c in chars)


def _name_like(word: str) -> bool:
    """A surname followed by one or two given-name characters, not a common word."""
    for surname in (word[:2], word[:1]):
        if surname in _SURNAME_SET and 1 <= len(word) - len(surname) <= 2:
            return _given(word[len(surname) :]) and is_person_name(word)
    return False


class PersonRecognizer(RuleRecognizer):
    """Presidio recognizer for ``PERSON``: shared rules plus jieba ``nr`` tags."""

    ENTITY = Entity.PERSON

    def load(self) -> None:
        """Import jieba and load its dictionary (about a second, once per process)."""
        self._tagger = _posseg()

    def jieba_spans(self, text: str) -> list[tuple[int, int]]:
        """Names jieba tags in the normalized ``text`` as ``(start, end)``."""
        tokens = [(t.word, t.flag) for t in self._tagger.cut(text)]
        spans = []
        position = 0
        index = 0
        while index < len(tokens):
            word, flag = tokens[index]
            if flag.startswith("nr") and _name_like(word):
                spans.append((position, position + len(word)))
            elif word in _SURNAME_SET and index + 1 < len(tokens):
                following, next_flag = tokens[index + 1]
                joined = word + following
                # 唐 / 建华 is one name; 和 / 李欣 is a word and a name.
                tagged = flag.startswith("nr") or next_flag.startswith("nr")
                if tagged and _name_like(joined) and not _name_like(following):
                    spans.append((position, position + len(joined)))
                    position += len(word)
                    index += 1
                    word = following
            position += len(word)
            index += 1
        return spans

    def spans(self, text: str) -> list[tuple[int, int, float]]:
        """Rule spans, then jieba's names that overlap none of them."""
        found = super().spans(text)
        # Place names inside an address are often tagged nr (普陀, 高坪): not persons.
        taken = found + find_spans(_ADDRESS, text)
        for start, end in self.jieba_spans(text):
            if all(end <= s or start >= e for s, e, _ in taken):
                found.append((start, end, JIEBA_SCORE))
        return found
