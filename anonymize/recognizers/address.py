"""Street-level addresses: province, city, district, town, road or street, number,
estate and building / unit / room. At least a road and an administrative
level above it, or a road and a house number, are needed: a bare 江苏省南京市
is a generalized location, not an address.
"""

from __future__ import annotations

from anonymize.entities import Entity
from anonymize.recognizers._base import RuleRecognizer


class AddressRecognizer(RuleRecognizer):
    """Presidio recognizer for ``CN_ADDRESS``; rules in :mod:`anonymize.patterns`."""

    ENTITY = Entity.CN_ADDRESS
