"""Chinese personal names (``PERSON``): the name rules both detection paths share.

No spaCy model for Chinese can be downloaded here, and jieba's tagger reads
one text at a time, which the polars path cannot afford over millions of
cells. So a name is decided by rules both paths run alike
(:data:`anonymize.patterns.RULES`, word lists in :mod:`anonymize._names`):

- a candidate is a surname (about 400 single, 30 compound) and one or two
  given-name characters (no particle, pronoun or other stop character);
- it needs a place that makes it a name: after a context word or a role
  (姓名, 收件人, 股东, 母亲, any word ending in 人/员/者/师/长/警/民 … score
  0.85), after a verb or particle that takes a person (核实, 通知, 和, 收到 …
  0.7), before an honorific or title (先生, 主任 … 0.7), glued to a word that
  follows names after a stop character (由张伟主持 … 0.6), opening a run of
  Chinese (a whole cell, a field, the subject of a clause, 0.6), or between a
  stop character and a particle (现将李强等三人, 0.5);
- it must end where a name ends: at a non-Chinese character, a particle (的,
  在, 说 …) or a word that follows names (电话, 手机, 主持, 交来, 本人 …), not
  inside a word (万迅电脑 is a shop); after a context word or a verb, also
  before any common word (证人张伟认为), trying two and three characters;
- no common two-character word straddles its edges (王芳交来 is 王芳; 过程合作
  holds no name), it is no common word and does not open with one, by jieba's
  dictionary and its part-of-speech tags (高中, 江苏; 谢谢 is tagged ``nr`` but
  far too frequent; rare entries such as 黄东 ``ns`` do not count), and no
  company's name follows it (凌云科技).

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
