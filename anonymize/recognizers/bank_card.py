"""Bank card numbers: 16-19 digits, Luhn check digit (ISO/IEC 7812, python-stdnum).

Grouped by four with spaces or dashes or not grouped; the first digit is
3-6 or 9 (UnionPay 62, Visa 4, Mastercard 5, JCB 35 …, domestic 9). A valid
USCC is reported as that instead.

Card or ID: about 1.3 % of 18-digit card numbers carry a birth year where a
resident ID has one, and one in ten mistyped IDs passes Luhn. Such a number
(18 digits, Luhn, a year 1900 to now in places 7-10) is a card only when the
nearest card or ID word before it (12 characters) is a card word (银行卡, 卡号,
账号, 工资卡 …). Otherwise it is a resident ID if it passes GB 11643 with a
real birth date (the more sensitive reading; the span masked is the same)
and nothing if it does not (a mistyped ID, like any ID with a wrong check
character). Both paths apply the rule (:func:`anonymize.patterns.is_bank_card`).
"""

from __future__ import annotations

from anonymize.entities import Entity
from anonymize.recognizers._base import RuleRecognizer


class BankCardRecognizer(RuleRecognizer):
    """Presidio recognizer for ``BANK_CARD``; rules in :mod:`anonymize.patterns`."""

    ENTITY = Entity.BANK_CARD
