"""Unified social credit codes (统一社会信用代码), GB 32100-2015.

Eight digits (registration authority, entity type, region) and ten characters
of the 31-character alphabet, the last a MOD 31 check character
(python-stdnum). An organisation identifier: ``Entity.CN_USCC.is_personal`` is
False. An 18-digit number that reads as a resident ID (real birth date in
place) is not reported as a USCC.

The first character is a digit: GB 32100 also names registration
authorities A, N and Y, but python-stdnum, the validator both paths follow,
accepts digits only in the first eight places, so such codes are not
reported (an organisation identifier: a miss releases no personal data).
"""

from __future__ import annotations

from anonymize.entities import Entity
from anonymize.recognizers._base import RuleRecognizer


class UsccRecognizer(RuleRecognizer):
    """Presidio recognizer for ``CN_USCC``; rules in :mod:`anonymize.patterns`."""

    ENTITY = Entity.CN_USCC
