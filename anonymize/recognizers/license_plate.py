"""Vehicle licence plates (GA 36-2018): province character, issuing-office
letter, optional separator, five letters or digits; new-energy plates have six
(D or F first for small cars, last for large ones).
"""

from __future__ import annotations

from anonymize.entities import Entity
from anonymize.recognizers._base import RuleRecognizer


class LicensePlateRecognizer(RuleRecognizer):
    """Presidio recognizer for ``CN_LICENSE_PLATE``; rules in :mod:`anonymize.patterns`."""

    ENTITY = Entity.CN_LICENSE_PLATE
