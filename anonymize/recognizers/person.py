"""Chinese personal names (``PERSON``): the name rules both detection paths share.

No spaCy model for Chinese can be downloaded here, and jieba's tagger reads
one text at a time, which the polars path cannot afford over millions of
cells. So a name is decided by rules both paths run alike
(:data:`anonymize.patterns.RULES`, word lists in :mod:`anonymize._names`):

- a candidate is a surname (about 400 single, 30 compound) and one or two
  given-name characters (no particle, pronoun or other stop character);
- it needs a place that makes it a name: after a context word (姓名, 联系人,
  收件人 … score 0.85), after a verb or particle that takes a person (核实,
  通知, 和, 给 … 0.7), before an honorific (先生, 女士 … 0.7), or opening a
  run of Chinese (a whole cell, a field, the subject of a clause, 0.6);
- it must end where a name ends: at a non-Chinese character, a particle (的,
  在, 说 …) or a word that follows names (电话, 手机, 身份证 …), not inside a
  word (万迅电脑 is a shop);
- it is no common word and does not open with one, by jieba's dictionary
  and its part-of-speech tags (高中, 江苏; 谢谢 is tagged ``nr`` but far too
  frequent; rare entries such as 黄东 ``ns`` do not count).

Context words (姓名, 联系人, 客户 …) then raise scores through the context
enhancer, and a name inside another with at least its score is dropped
(Presidio's rule, which the polars path applies too).
"""

from __future__ import annotations

from anonymize.entities import Entity
from anonymize.recognizers._base import RuleRecognizer


class PersonRecognizer(RuleRecognizer):
    """Presidio recognizer for ``PERSON``; rules in :mod:`anonymize.patterns`."""

    ENTITY = Entity.PERSON
