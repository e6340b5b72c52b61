"""Mainland phone numbers.

Mobiles ``1[3-9]`` + 9 digits, optionally after ``+86`` / ``0086`` and grouped
3-4-4 by dashes or spaces (full-width digits are folded first); landlines with
an area code (``010``, ``02x``, ``0xxx``) in brackets or followed by a dash or a
space, then a 7-8 digit local number not starting 0, 1 or 9. Hotlines
(400-xxx-xxxx, 95588, 12345) and 11-digit numbers without a mobile prefix do
not match.
"""

from __future__ import annotations

from anonymize.entities import Entity
from anonymize.recognizers._base import RuleRecognizer


class PhoneRecognizer(RuleRecognizer):
    """Presidio recognizer for ``PHONE_NUMBER``; rules in :mod:`anonymize.patterns`."""

    ENTITY = Entity.PHONE_NUMBER
