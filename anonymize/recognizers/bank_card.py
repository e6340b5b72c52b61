"""Bank card numbers: 16-19 digits, Luhn check digit (ISO/IEC 7812, python-stdnum).

Grouped by four with spaces or dashes or not grouped; the first digit is
3-6 or 9 (UnionPay 62, Visa 4, Mastercard 5, JCB 35 …, domestic 9). An
18-digit number with a birth year where a resident ID has one is taken for an
ID (valid or mistyped), and a valid USCC is reported as that instead.
"""

from __future__ import annotations

from anonymize.entities import Entity
from anonymize.recognizers._base import RuleRecognizer


class BankCardRecognizer(RuleRecognizer):
    """Presidio recognizer for ``BANK_CARD``; rules in :mod:`anonymize.patterns`."""

    ENTITY = Entity.BANK_CARD
