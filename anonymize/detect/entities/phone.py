"""Mainland phone numbers.

Mobiles ``1[3-9]`` + 9 digits, optionally after ``+86`` / ``0086`` and grouped
3-4-4 by dashes or spaces (full-width digits are folded first); landlines with
an area code (``010``, ``02x``, ``0xxx``) in brackets or followed by a dash or a
space, then a 7-8 digit local number not starting 0, 1 or 9. Hotlines
(400-xxx-xxxx, 95588, 12345) and 11-digit numbers without a mobile prefix do
not match.
"""

from __future__ import annotations

from anonymize.detect.entity import EntityDefinition, Rule
from anonymize.detect.text import ALONE_AFTER, ALONE_BEFORE, FOUR_DIGITS

NAME = "PHONE_NUMBER"

_AREA = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
PATTERN = (
    r"(?:(?:\+|00)86[ -]?)?1[3-9][0-9](?:[0-9]{8}|-[0-9]{4}-[0-9]{4}| [0-9]{4} [0-9]{4})"
    rf"|(?:\({_AREA}\) ?|{_AREA}[ -]?)[2-8][0-9]{{6,7}}"
)
_FORMS = ((rf"\(?{_AREA}.*", 0.6),)  # landline

PHONE = EntityDefinition(
    name=NAME,
    rules=(
        Rule(
            NAME,
            PATTERN,
            ALONE_BEFORE,
            ALONE_AFTER,
            score=0.75,
            forms=_FORMS,
            requires=FOUR_DIGITS,
        ),
    ),
    context=("电话", "手机", "联系方式", "致电", "来电", "tel", "mobile", "phone"),
    negative_context=True,
    examples=(
        ("手机13912345678。", "13912345678"),  # a mobile after a context word
        ("+86 139 1234 5678", "+86 139 1234 5678"),  # country code, 3-4-4 by spaces
        ("１３９１２３４５６７８", "１３９１２３４５６７８"),  # full-width digits
        ("025-84123456", "025-84123456"),  # landline, area code and dash
        ("(010)62345678", "(010)62345678"),  # landline, area code in brackets
    ),
    counter_examples=(
        "金额13912345678.50元",  # an amount: decimals make it no phone
        "客服热线400-820-8820",  # 400 hotline
        "12912345678",  # 11 digits, 12 is no mobile prefix
        "tel13912345678",  # glued to letters
        "订单号13912345678",  # an order-number word halves the score
    ),
)
