"""Chinese passport numbers: E or G and 8 digits, or E, a letter and 7 digits.

Short letter-digit codes are common, so a passport number alone scores 0.5
(reported at the default threshold only) and a context word (护照, passport,
证件号) nearby raises it.
"""

from __future__ import annotations

from anonymize.detect.entity import EntityDefinition, Rule
from anonymize.detect.text import ALONE_AFTER, ALONE_BEFORE, FOUR_DIGITS

NAME = "CN_PASSPORT"

PATTERN = r"[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}"

PASSPORT = EntityDefinition(
    name=NAME,
    rules=(Rule(NAME, PATTERN, ALONE_BEFORE, ALONE_AFTER, score=0.5, requires=FOUR_DIGITS),),
    context=("护照", "passport", "证件号"),
    negative_context=True,
    examples=(
        ("护照号E12345678", "E12345678"),  # E and 8 digits, with context
        ("护照EA1234567", "EA1234567"),  # E, a letter and 7 digits
        ("G12345678", "G12345678"),  # alone: reported at the default threshold
    ),
    counter_examples=(
        "型号E12345678",  # a model number: the word halves the score
        "E1234567",  # too short
    ),
)
