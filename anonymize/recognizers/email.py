"""E-mail addresses (RFC 5322 simplified: dot-atom local part, dotted domain,
alphabetic top-level domain). No top-level domain list is downloaded.
"""

from __future__ import annotations

from anonymize.entities import Entity
from anonymize.recognizers._base import RuleRecognizer


class EmailRecognizer(RuleRecognizer):
    """Presidio recognizer for ``EMAIL_ADDRESS``; rules in :mod:`anonymize.patterns`."""

    ENTITY = Entity.EMAIL_ADDRESS
