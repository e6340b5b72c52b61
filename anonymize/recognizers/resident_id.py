"""Resident identity numbers (居民身份证号码), GB 11643-1999.

18 characters: six-digit region, eight-digit birth date, three-digit
sequence and an ISO 7064 MOD 11-2 check character (0-9 or X; lower-case x and
6-8-4 grouping by spaces accepted), checked with python-stdnum and a real
birth date between 1900 and today. 15-digit first-generation IDs (no check
digit) need a province that issued them and a real ``19yymmdd`` date; they
score lower and are reported at the default threshold only.

An 18-digit ID that also passes a card's Luhn check is reported as a card
instead when a card word (银行卡, 卡号 …) is the nearest card or ID word before
it, and as an ID otherwise (see :mod:`anonymize.recognizers.bank_card`).
"""

from __future__ import annotations

from anonymize.entities import Entity
from anonymize.recognizers._base import RuleRecognizer


class ResidentIdRecognizer(RuleRecognizer):
    """Presidio recognizer for ``CN_RESIDENT_ID``; rules in :mod:`anonymize.patterns`."""

    ENTITY = Entity.CN_RESIDENT_ID
