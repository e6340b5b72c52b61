"""Chinese passport numbers: E or G and 8 digits, or E, a letter and 7 digits.

Short letter-digit codes are common, so a passport number is reported only
with a context word (护照, passport, 证件号) nearby.
"""

from __future__ import annotations

from anonymize.entities import Entity
from anonymize.recognizers._base import RuleRecognizer


class PassportRecognizer(RuleRecognizer):
    """Presidio recognizer for ``CN_PASSPORT``; rules in :mod:`anonymize.patterns`."""

    ENTITY = Entity.CN_PASSPORT
