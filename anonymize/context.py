"""Context words and how they move scores: the same rule in both detection paths.

Presidio's own enhancer matches context words against spaCy tokens; the blank
Chinese pipeline here has one token per character, so a word like 身份证
would never match, and a token window cannot be mirrored in polars. Instead
the *nearest* listed word within :data:`CONTEXT_WINDOW` characters before a
span decides: a supporting word raises the score as Presidio does (add
:data:`CONTEXT_BOOST`, at least :data:`CONTEXT_FLOOR`), a word naming an
order, waybill or invoice number halves it. The Presidio path applies it in
:class:`anonymize.recognizers.NearestWordContextEnhancer`, the vector path as
polars expressions over the same regexes.
"""

from __future__ import annotations

import re

from anonymize.entities import Entity

#: How many characters before a span are read for context words.
CONTEXT_WINDOW = 12
#: Presidio's defaults: a supporting word adds 0.35 and lifts the score to at least 0.4.
CONTEXT_BOOST = 0.35
CONTEXT_FLOOR = 0.4
#: A word naming another kind of number halves the score (below the usual threshold).
NEGATIVE_FACTOR = 0.5

CONTEXT: dict[Entity, tuple[str, ...]] = {
    Entity.PERSON: ("姓名", "名字", "联系人", "收件人", "收货人", "客户", "患者", "name"),
    Entity.CN_RESIDENT_ID: ("身份证", "证件号", "身份号码", "公民身份", "id card", "idcard"),
    Entity.PHONE_NUMBER: ("电话", "手机", "联系方式", "致电", "来电", "tel", "mobile", "phone"),
    Entity.EMAIL_ADDRESS: ("邮箱", "邮件", "email", "e-mail", "mail"),
    Entity.BANK_CARD: (
        "银行卡",
        "卡号",
        "账号",
        "账户",
        "工资卡",
        "借记卡",
        "信用卡",
        "储蓄卡",
        "开户",
        "card",
    ),
    Entity.CN_PASSPORT: ("护照", "passport", "证件号"),
    Entity.CN_LICENSE_PLATE: ("车牌", "号牌", "车辆", "plate"),
    Entity.CN_ADDRESS: ("地址", "住址", "家住", "居住", "位于", "寄往", "送至", "address"),
    Entity.CN_USCC: ("信用代码", "统一社会", "税号", "纳税人识别号", "uscc"),
}
#: Words that name a number which is not personal (order, waybill, invoice …).
NEGATIVE_CONTEXT = (
    "订单",
    "单号",
    "运单",
    "快递",
    "发票",
    "流水号",
    "交易号",
    "工单",
    "批次",
    "序列号",
    "条码",
    "型号",
    "票号",
)
_NUMERIC = frozenset(
    {
        Entity.CN_RESIDENT_ID,
        Entity.PHONE_NUMBER,
        Entity.BANK_CARD,
        Entity.CN_PASSPORT,
        Entity.CN_USCC,
    }
)


def context_words(entity: Entity) -> str:
    """A regex group matching any supporting or negative word of ``entity``.

    The words are plain (letters, Chinese, spaces, dashes) and need no escaping.
    """
    words = CONTEXT[entity] + (NEGATIVE_CONTEXT if entity in _NUMERIC else ())
    return "(" + "|".join(words) + ")"


def context_regex(entity: Entity) -> str:
    """A regex whose group 1 is the supporting or negative word nearest the window's end."""
    return "(?s:.*)" + context_words(entity)


_CONTEXT_RES = {entity: re.compile(context_regex(entity)) for entity in CONTEXT}


#: Words that name a card, for the numbers that read as a card and an ID alike ("card"
#: alone is left out: it ends "id card").
CARD_WORDS = (*(w for w in CONTEXT[Entity.BANK_CARD] if w != "card"), "bank card", "card no")
_CARD_OR_ID = "(?s:.*)(" + "|".join(CARD_WORDS + CONTEXT[Entity.CN_RESIDENT_ID]) + ")"


def card_or_id_regex() -> str:
    """A regex whose group 1 is the card or ID word nearest the window's end.

    An 18-digit number can pass the Luhn check of a card and the GB 11643
    check of a resident ID at once; the nearest of these words decides which
    it is (see :func:`anonymize.patterns.is_bank_card`).
    """
    return _CARD_OR_ID


_CARD_OR_ID_RE = re.compile(_CARD_OR_ID)


def card_word_nearest(text: str, start: int) -> bool:
    """Whether, of the card and ID words in the window before ``start``, a card word is nearest.

    >>> card_word_nearest("身份证号码见附件，银行卡号6222", 14)
    True
    >>> card_word_nearest("银行卡已挂失，身份证号6222", 14)
    False
    """
    window = text[max(0, start - CONTEXT_WINDOW) : start].lower()
    found = _CARD_OR_ID_RE.match(window)
    return found is not None and found.group(1) in CARD_WORDS


def adjust_for_context(score: float, word: str | None) -> float:
    """The score after the nearest context word ``word`` (None: no word in the window)."""
    if word is None:
        return score
    if word in NEGATIVE_CONTEXT:
        return score * NEGATIVE_FACTOR
    return min(1.0, max(score + CONTEXT_BOOST, CONTEXT_FLOOR))


def context_score(entity: Entity, text: str, start: int, score: float) -> float:
    """Score of a span starting at ``start`` in the normalized ``text`` after its context.

    The nearest listed word within :data:`CONTEXT_WINDOW` characters before
    the span decides: a supporting word raises the score, a word naming an
    order, waybill or invoice number lowers it, none leaves it.
    """
    window = text[max(0, start - CONTEXT_WINDOW) : start].lower()
    found = _CONTEXT_RES[entity].match(window)
    return adjust_for_context(score, found.group(1) if found else None)
