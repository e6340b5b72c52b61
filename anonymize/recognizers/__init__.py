"""Presidio recognizers for Chinese personal information, one per file.

Importing this package imports Presidio; ``import anonymize`` does not.
Every recognizer reads its regexes, validators and context words from
:mod:`anonymize.patterns`, the source the polars path reads too.

- :mod:`.resident_id` — ``CN_RESIDENT_ID`` (GB 11643)
- :mod:`.phone` — ``PHONE_NUMBER`` (mobiles, landlines)
- :mod:`.email` — ``EMAIL_ADDRESS``
- :mod:`.bank_card` — ``BANK_CARD`` (Luhn)
- :mod:`.passport` — ``CN_PASSPORT``
- :mod:`.license_plate` — ``CN_LICENSE_PLATE``
- :mod:`.address` — ``CN_ADDRESS``
- :mod:`.uscc` — ``CN_USCC`` (GB 32100)
- :mod:`.person` — ``PERSON`` (surnames, context, jieba's dictionary)
"""

from __future__ import annotations

from presidio_analyzer import RecognizerRegistry

from anonymize.recognizers._base import LANGUAGE, NearestWordContextEnhancer, RuleRecognizer
from anonymize.recognizers.address import AddressRecognizer
from anonymize.recognizers.bank_card import BankCardRecognizer
from anonymize.recognizers.email import EmailRecognizer
from anonymize.recognizers.license_plate import LicensePlateRecognizer
from anonymize.recognizers.passport import PassportRecognizer
from anonymize.recognizers.person import PersonRecognizer
from anonymize.recognizers.phone import PhoneRecognizer
from anonymize.recognizers.resident_id import ResidentIdRecognizer
from anonymize.recognizers.uscc import UsccRecognizer

RECOGNIZERS: tuple[type[RuleRecognizer], ...] = (
    ResidentIdRecognizer,
    PhoneRecognizer,
    EmailRecognizer,
    BankCardRecognizer,
    PassportRecognizer,
    LicensePlateRecognizer,
    AddressRecognizer,
    UsccRecognizer,
    PersonRecognizer,
)


def build_registry() -> RecognizerRegistry:
    """A registry for Chinese (``zh``) holding one instance of each recognizer.

    >>> sorted(r.supported_entities[0] for r in build_registry().recognizers)[:2]
    ['BANK_CARD', 'CN_ADDRESS']
    """
    return RecognizerRegistry(
        recognizers=[recognizer() for recognizer in RECOGNIZERS],
        supported_languages=[LANGUAGE],
    )


__all__ = [
    "LANGUAGE",
    "RECOGNIZERS",
    "AddressRecognizer",
    "BankCardRecognizer",
    "EmailRecognizer",
    "LicensePlateRecognizer",
    "NearestWordContextEnhancer",
    "PassportRecognizer",
    "PersonRecognizer",
    "PhoneRecognizer",
    "ResidentIdRecognizer",
    "RuleRecognizer",
    "UsccRecognizer",
    "build_registry",
]
