"""Chinese personal names (``PERSON``): the name rules both detection paths share.

No spaCy model for Chinese can be downloaded here, and jieba's tagger reads
one text at a time, which the polars path cannot afford over millions of
cells. So a name is decided by rules both paths run alike (word lists in
:mod:`anonymize.detect._names`):

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

Context words (姓名, 联系人, 客户 …) then raise scores, and a name inside
another with at least its score is dropped (Presidio's rule, which the polars
path applies too). Rules come in decreasing score order: where two find one
span, the first wins (context moves both scores alike, so the order holds
after context too).
"""

from __future__ import annotations

import functools

import polars as pl

from anonymize.detect._names import (
    COMPOUND_SURNAMES,
    GLUED_START,
    GLUED_WORD,
    HAN,
    HONORIFIC,
    LAZY_PERSON_NAME,
    LED_PERSON_NAME,
    LOOSE_NAME_END,
    NAME_END,
    NAME_FOLLOW,
    PERSON_CONTEXT_LEAD,
    PERSON_VERB_LEAD,
    RUN_PERSON_NAME,
    RUN_START,
    SAFE_PERSON_NAME,
    STOP_END,
    STRICT_NAME_FOLLOW,
    common_words,
)
from anonymize.detect.entity import EntityDefinition, Rule, Validator
from anonymize.detect.text import ANY2

NAME = "PERSON"

#: Below this score a finding is a bare name-shaped cell, without context.
WEAK_SCORE = 0.7


def is_person_name(candidate: str) -> bool:
    """A captured name that is no common word (高中, 江苏 …) and does not open with one.

    ``信用代`` (of 信用代码) or ``车牌云`` open with a word and are no names; a
    compound surname (欧阳) is exempt from the opening check.
    """
    words = common_words()
    opening = candidate[:2]
    return candidate not in words and (opening in COMPOUND_SURNAMES or opening not in words)


@functools.cache
def _common_words() -> pl.Series:
    return pl.Series("words", sorted(common_words()), dtype=pl.String)


def person_ok(span: pl.Expr) -> pl.Expr:
    """No common word and not opening with one (as :func:`is_person_name`)."""
    words = _common_words().implode()
    opening = span.str.slice(0, 2)
    return ~span.is_in(words) & (opening.is_in(COMPOUND_SURNAMES) | ~opening.is_in(words))


_HAN_CHAR = f"[{HAN}]"

RULES = (
    *(
        Rule(
            NAME,
            name,
            lead,
            LOOSE_NAME_END,
            kind="anchored",
            score=score,
            requires=lead,
            greedy=name == LED_PERSON_NAME,
            follow=STRICT_NAME_FOLLOW,
            follow_word=True,
            bounded=True,
        )
        # After a context word or a verb the name is certain, its end is not: a name of two
        # and one of three characters are both tried (the longer one wins where both hold).
        for lead, score in ((PERSON_CONTEXT_LEAD, 0.85), (PERSON_VERB_LEAD, 0.7))
        for name in (LED_PERSON_NAME, LAZY_PERSON_NAME)
    ),
    Rule(
        NAME,
        SAFE_PERSON_NAME,
        ANY2,
        HONORIFIC,
        score=0.7,
        requires=HONORIFIC,
        greedy=False,
        tail_width=2,
        bounded=True,
    ),
    Rule(
        NAME,
        SAFE_PERSON_NAME,
        GLUED_START,
        GLUED_WORD,
        score=0.6,
        requires=GLUED_WORD,
        greedy=False,
        tail_width=2,
        bounded=True,
    ),
    Rule(
        NAME,
        RUN_PERSON_NAME,
        RUN_START,
        NAME_END,
        score=0.6,
        requires=_HAN_CHAR,
        follow=NAME_FOLLOW,
        bounded=True,
    ),
    Rule(
        NAME,
        SAFE_PERSON_NAME,
        GLUED_START,
        STOP_END,
        score=0.5,
        requires=STOP_END,
        greedy=False,
        follow=NAME_FOLLOW,
        bounded=True,
    ),
)

PERSON = EntityDefinition(
    name=NAME,
    rules=RULES,
    context=("姓名", "名字", "联系人", "收件人", "收货人", "客户", "患者", "name"),
    validator=Validator(is_person_name, (person_ok,)),
    contextual=True,
    weak_below=WEAK_SCORE,
    examples=(
        ("姓名：张伟，电话13912345678", "张伟"),  # name after 姓名
        ("王小明先生来电", "王小明"),  # name before an honorific
        ("欧阳娜娜", "欧阳娜娜"),  # a whole cell, compound surname
        ("我和李欣去了南京", "李欣"),  # after a particle, before a particle
        ("证人张伟认为", "张伟"),  # before a common word
    ),
    counter_examples=(
        "高中",  # a word starting with a surname (education level)
        "江苏",  # a province, not a name
        "谢谢",  # jieba's dictionary calls it a name; it is not
        "王先生",  # a surname and a title: no given name
        "地址：上海市普陀区长寿路18号",  # 普陀 in an address
    ),
)
