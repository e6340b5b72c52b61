"""Regexes, boundaries and validators: the one source of truth of both detection paths.

:mod:`anonymize.recognizers` (Presidio, one text at a time) and
:mod:`anonymize.vector` (polars, whole columns) read every rule from here, so
they cannot drift apart (context words live in :mod:`anonymize.context`).
Each regex is written in the common subset of Python's :mod:`re` and Rust's
``regex`` crate (which polars uses): explicit character classes (``\\d``,
``\\w``, ``\\s`` differ between the two under Unicode), no look-around,
scoped flags only.

A rule matches in a *prepared* text: full-width ASCII folded to half-width one
code point for one (so offsets still point into the original), then padded
with :data:`PAD_BEFORE` and :data:`PAD_AFTER` so that every match has a
character before and after it. Boundaries are fields of the rule, not part of
its pattern: the Presidio path turns them into look-around, the vector path
consumes them and steps back (see :mod:`anonymize.vector`).

Boundary decision for numbers: an identifier stands alone. A letter, a digit or
``@`` right before or after it makes it part of a longer code (``SF...``
tracking numbers, invoice codes, e-mail local parts); a digit and a dot before
it, or a dot and a letter or digit after it, make it part of a decimal amount
(``13912345678.50`` 元 is an amount, not a phone) or a domain. A full stop that
ends a sentence (``…13912345678.``) is no part of the number.

References:
    GB 11643-1999 (citizen identification number, ISO 7064 MOD 11-2 check
    character); GB 32100-2015 (unified social credit code, MOD 31 check
    character); ISO/IEC 7812 Luhn check digit for bank cards.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from stdnum import luhn
from stdnum.cn import ric, uscc

from anonymize._names import (
    COMPOUND_SURNAMES,
    FOLLOW_WIDTH,
    GLUED_START,
    GLUED_WORD,
    HAN,
    HONORIFIC,
    LAZY_PERSON_NAME,
    LED_PERSON_NAME,
    LOOSE_NAME_END,
    NAME_END,
    NAME_FOLLOW,
    ORG_WORDS,
    PERSON_CONTEXT_LEAD,
    PERSON_VERB_LEAD,
    RUN_PERSON_NAME,
    RUN_START,
    SAFE_PERSON_NAME,
    STOP_END,
    STRICT_NAME_FOLLOW,
    common_words,
    following_words,
    han_except,
    straddling_words,
    third_taken,
)
from anonymize.context import card_word_nearest
from anonymize.entities import Entity
from anonymize.errors import AnonymizationError

# --- preparing a text -----------------------------------------------------------------

#: Full-width ASCII (U+FF01-U+FF5E) and the ideographic space, folded one for one.
FULLWIDTH = (*(chr(c) for c in range(0xFF01, 0xFF5F)), "\u3000")
HALFWIDTH = (*(chr(c) for c in range(0x21, 0x7F)), " ")
_FOLD = str.maketrans(dict(zip(FULLWIDTH, HALFWIDTH, strict=True)))
#: Padding that gives every match a character on each side (two for look-behind).
PAD_BEFORE = "\n\n"
PAD_AFTER = "\n"


def normalize(text: str) -> str:
    """Fold full-width digits, letters and punctuation to ASCII; length is unchanged.

    >>> normalize("１３９　Ｅ")
    '139 E'
    """
    return text.translate(_FOLD)


# --- boundaries --------------------------------------------------------------------------

_PLACE_BODY = han_except("在住于是的了到往从至址为与及向我你他她您们请把由回看今昨说过送寄")

#: Before a number: not a letter, digit, ``@`` or ``.``; or a dot not after a digit.
ALONE_BEFORE = r"(?:(?s:.)[^0-9A-Za-z@.]|[^0-9]\.)"
#: After a number: not a letter, digit, ``@`` or ``.``; or a dot not before a letter or digit.
ALONE_AFTER = r"(?:[^0-9A-Za-z@.]|\.[^0-9A-Za-z])"
_ANY2 = r"(?s:..)"
_ANY1 = r"(?s:.)"
# --- patterns ---------------------------------------------------------------------------------

RESIDENT_ID = r"[1-9][0-9]{5}(?: ?[0-9]{8} ?[0-9]{3}[0-9Xx]| ?[0-9]{6} ?[0-9]{3})"
_AREA = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
PHONE = (
    r"(?:(?:\+|00)86[ -]?)?1[3-9][0-9](?:[0-9]{8}|-[0-9]{4}-[0-9]{4}| [0-9]{4} [0-9]{4})"
    rf"|(?:\({_AREA}\) ?|{_AREA}[ -]?)[2-8][0-9]{{6,7}}"
)
EMAIL = r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
BANK_CARD = r"[3-69][0-9]{3}(?:[ -]?[0-9]{4}){3}(?:[ -]?[0-9]{1,3})?"
PASSPORT = r"[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}"
_PLATE_ALNUM = "[A-HJ-NP-Z0-9]"
LICENSE_PLATE = (
    "[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][·・ -]?"
    f"(?:[DF]{_PLATE_ALNUM}[0-9]{{4}}|[0-9]{{5}}[DF]|{_PLATE_ALNUM}{{4}}[{_PLATE_ALNUM[1:-1]}学警港澳挂领])"
)
#: GB 32100: registration authority 1-9, entity type 1-5 or 9, a region code (11-82 first),
#: the organisation code and the check character (stdnum accepts digits only in the first 8).
USCC = r"[1-9][1-59][1-8][0-9]{5}[0-9A-HJ-NP-RTUW-Y]{10}"

# An address is read as one run: it starts where a run of place characters starts
# (after a stop character such as 在, 住, 址 or a non-Chinese one), spans at most
# 60 place characters, digits and letters, and ends at the last character that
# can end an address (a level, road, number, building or room). Every part is
# linear in both engines: nested optional parts (province? city? district? …)
# made Python backtrack for minutes on 市市市… and Rust's automaton 50x slower.
# Whether the run is an address is then decided by :func:`is_address`.
_ADDRESS_CHAR = f"[{_PLACE_BODY}0-9A-Za-z-]"
_ADDRESS_END = (
    "(?:(?:楼|座|栋|幢|单元|层)(?:[0-9]{1,5}室?)?"
    "|[省市区县州盟旗镇乡路街巷弄道号室园苑城村庄里厦寓场])"
)
_ADDRESS_RUN = 60
ADDRESS = f"[{_PLACE_BODY}]{_ADDRESS_CHAR}{{0,{_ADDRESS_RUN}}}{_ADDRESS_END}"
#: The same run unbounded: Rust's regex locates its matches 4x faster (the bounded repeat of a
#: large class blows up the automaton that finds where a match starts). Where its match spans
#: at most :data:`ADDRESS_FAST_LONGEST` characters, it is the match of :data:`ADDRESS`
#: (leftmost-first: the same start, and the same first choice among the shorter runs).
ADDRESS_FAST = f"[{_PLACE_BODY}]{_ADDRESS_CHAR}*{_ADDRESS_END}"
ADDRESS_FAST_LONGEST = 1 + _ADDRESS_RUN + 1
_ADDRESS_START = f"(?:(?s:.)[^{_PLACE_BODY}])"
#: An address has a road and either two administrative levels or a house number on the road.
ADDRESS_ROAD = "路|街|巷|弄|胡同|大道"
ADDRESS_LEVELS = "[省市区县州盟旗镇乡].*[省市区县州盟旗镇乡]"
ADDRESS_NUMBER = "(?:路|街|巷|弄|胡同|大道|段)[0-9]{1,5}(?:号|弄)"
#: Words that open a run of place characters without being part of the address, as
#: ``(characters the span must follow, or "" for any, regex whose group 1 is cut off)``:
#: 现居 and what little precedes it in the run (申请人现居江苏省…), and the second
#: characters of 住所 and 到达 / 抵达 (住, 到 and 抵 stop a run; 到达州市 goes to 达州市).
ADDRESS_LEADS = (("", "^(.?现居)"), ("住", "^(所)"), ("到抵", "^(达)[^州]"))
#: A run that ends in 楼 right before 上 or 下 ends upstairs or downstairs of the address, not
#: in a building (…201室楼下, …室业主刘鑫反映楼上), unless a number or a building word is
#: before 楼 (3号楼下): the address is then the run up to its previous possible end.
ADDRESS_STAIRS = ("楼", "上下", "0123456789号栋幢座")
#: The longest start of a run that ends where an address can end (group 1).
ADDRESS_UP_TO_END = f"^((?s:.)*{_ADDRESS_END})"

# --- rules ----------------------------------------------------------------------------------------

Kind = Literal["behind", "anchored"]
Check = Literal["resident_id", "bank_card", "uscc", "person", "address"]


@dataclass(frozen=True, slots=True)
class Rule:
    """How one entity is found: the span's pattern, what must surround it, its score.

    Attributes:
        entity: What a match is.
        pattern: The span itself.
        lead: What precedes the span. ``behind``: exactly two characters
            (a look-behind); ``anchored``: a context phrase consumed before the
            span.
        tail: What follows the span (not part of it).
        kind: How ``lead`` is read, see above.
        score: Base score of a valid match before context.
        forms: ``(regex, score)`` pairs; the first whose regex matches the whole
            span overrides ``score``.
        check: The validator a match must pass, if any.
        requires: A cheap regex every cell with a valid match contains; rules sharing
            one are searched for together first (see :func:`anonymize.vector.scan_table`).
        greedy: Whether the pattern prefers its longest match (no lazy quantifier), so
            that a cell matching it from end to end is one match (a fast path).
        tail_width: How many characters ``tail`` consumes (:data:`ALONE_AFTER`: one,
            or two after a dot, read off the match).
        follow: What the text right after the span must start with, read over
            :data:`~anonymize._names.FOLLOW_WIDTH` characters once the match is
            found (a check, not part of the match: a rejected match is not retried
            shorter, in either path).
        follow_word: Whether ``follow`` is also met where the two characters after
            the span are a common word (:func:`~anonymize._names.following_words`:
            证人张伟认为, 患者李晶反复), and never where they are a word of a company's
            name (:data:`~anonymize._names.ORG_WORDS`).
        bounded: Whether a span is dropped where a common two-character word
            straddles its end, or its start after a one-character boundary
            (``behind``; a context phrase ends where the span starts)
            (:func:`~anonymize._names.straddling_words`: in 王芳交来押金 the name is
            王芳, not 王芳交; 过程合作 holds no name, but 收件人马丽 does).
        fast: ``(pattern, longest)``: a pattern the vector path may search with
            instead of ``pattern``, because it finds the same match wherever that
            match is at most ``longest`` characters long (a longer one is searched
            again with ``pattern``).
    """

    entity: Entity
    pattern: str
    lead: str
    tail: str
    kind: Kind = "behind"
    score: float = 0.5
    forms: tuple[tuple[str, float], ...] = ()
    check: Check | None = None
    requires: str = "(?s:.)"
    greedy: bool = True
    tail_width: int = 1
    follow: str | None = None
    follow_word: bool = False
    bounded: bool = False
    fast: tuple[str, int] | None = None

    @property
    def whole_cell(self) -> bool:
        """Whether a cell that is one match from end to end may skip extraction."""
        return self.kind == "behind" and self.greedy

    def python_regex(self) -> re.Pattern[str]:
        """The rule for :mod:`re`: boundaries as look-around, the span as group 1."""
        lead = f"(?<={self.lead})" if self.kind == "behind" else f"(?:{self.lead})"
        return re.compile(f"{lead}({self.pattern})(?={self.tail})")

    def vector_regex(self, fast: bool = False) -> str:
        """The rule for polars (no look-around): boundaries consumed as groups.

        Groups: ``lead`` (the boundary or context before) and ``hit`` (the span).

        Args:
            fast: Search with the ``fast`` pattern, if the rule has one.
        """
        pattern = self.fast[0] if fast and self.fast is not None else self.pattern
        return f"(?P<lead>{self.lead})(?P<hit>{pattern})(?:{self.tail})"

    @property
    def step_back(self) -> int:
        """Characters a look-behind reads before the span: where the next search resumes."""
        return 2 if self.kind == "behind" else 0


_ID_FORMS = ((r"[0-9]{6} ?[0-9]{6} ?[0-9]{3}", 0.5),)  # 15-digit first generation
_PHONE_FORMS = ((rf"\(?{_AREA}.*", 0.6),)  # landline

#: Cheap regexes every match needs somewhere in its cell. Rules that share one (the number
#: rules: four digits) form a family the vector path first searches for as one alternation.
_FOUR_DIGITS = "[0-9]{4}"
_HAN_CHAR = f"[{HAN}]"
_UPPER = "[A-HJ-NP-Z]"  # a plate's office letter: an ASCII class is far cheaper than Han

#: PERSON rules come in decreasing score order: where two find one span, the first wins
#: (context moves both scores alike, so the order holds after context too); a name inside
#: another one with at least its score is dropped (:func:`drop_contained`, as Presidio).
RULES: tuple[Rule, ...] = (
    Rule(
        Entity.CN_RESIDENT_ID,
        RESIDENT_ID,
        ALONE_BEFORE,
        ALONE_AFTER,
        score=0.9,
        forms=_ID_FORMS,
        check="resident_id",
        requires=_FOUR_DIGITS,
    ),
    Rule(
        Entity.PHONE_NUMBER,
        PHONE,
        ALONE_BEFORE,
        ALONE_AFTER,
        score=0.75,
        forms=_PHONE_FORMS,
        requires=_FOUR_DIGITS,
    ),
    Rule(
        Entity.EMAIL_ADDRESS,
        EMAIL,
        r"(?:(?s:.)[^A-Za-z0-9._%+-])",
        "[^A-Za-z0-9_-]",
        score=0.9,
        requires="@",
    ),
    Rule(
        Entity.BANK_CARD,
        BANK_CARD,
        ALONE_BEFORE,
        ALONE_AFTER,
        score=0.8,
        check="bank_card",
        requires=_FOUR_DIGITS,
    ),
    Rule(Entity.CN_PASSPORT, PASSPORT, ALONE_BEFORE, ALONE_AFTER, score=0.5, requires=_FOUR_DIGITS),
    Rule(Entity.CN_LICENSE_PLATE, LICENSE_PLATE, _ANY2, ALONE_AFTER, score=0.6, requires=_UPPER),
    Rule(
        Entity.CN_ADDRESS,
        ADDRESS,
        _ADDRESS_START,
        _ANY1,
        score=0.6,
        check="address",
        requires=ADDRESS_ROAD,
        fast=(ADDRESS_FAST, ADDRESS_FAST_LONGEST),
    ),
    Rule(
        Entity.CN_USCC,
        USCC,
        ALONE_BEFORE,
        ALONE_AFTER,
        score=0.85,
        check="uscc",
        requires=_FOUR_DIGITS,
    ),
    *(
        Rule(
            Entity.PERSON,
            name,
            lead,
            LOOSE_NAME_END,
            kind="anchored",
            score=score,
            check="person",
            requires=lead,
            greedy=name == LED_PERSON_NAME,
            follow=STRICT_NAME_FOLLOW,
            follow_word=True,
            bounded=True,
        )
        # After a context word or a verb the name is certain, its end is not: a name of two
        # and one of three characters are both tried (the longer one wins where both hold).
        for lead, score in ((PERSON_CONTEXT_LEAD, 0.85), (PERSON_VERB_LEAD, 0.7))
        for name in (LED_PERSON_NAME, LAZY_PERSON_NAME)
    ),
    Rule(
        Entity.PERSON,
        SAFE_PERSON_NAME,
        _ANY2,
        HONORIFIC,
        score=0.7,
        check="person",
        requires=HONORIFIC,
        greedy=False,
        tail_width=2,
        bounded=True,
    ),
    Rule(
        Entity.PERSON,
        SAFE_PERSON_NAME,
        GLUED_START,
        GLUED_WORD,
        score=0.6,
        check="person",
        requires=GLUED_WORD,
        greedy=False,
        tail_width=2,
        bounded=True,
    ),
    Rule(
        Entity.PERSON,
        RUN_PERSON_NAME,
        RUN_START,
        NAME_END,
        score=0.6,
        check="person",
        requires=_HAN_CHAR,
        follow=NAME_FOLLOW,
        bounded=True,
    ),
    Rule(
        Entity.PERSON,
        SAFE_PERSON_NAME,
        GLUED_START,
        STOP_END,
        score=0.5,
        check="person",
        requires=STOP_END,
        greedy=False,
        follow=NAME_FOLLOW,
        bounded=True,
    ),
)

# --- scalar validators (python-stdnum) --------------------------------------------------------

#: Provinces that issued first-generation (15-digit) IDs; the two-digit prefix.
PROVINCES_1985 = (
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65"
).split()
#: Province-level codes of GB/T 2260 (the first two digits of an 18-character ID): the
#: provinces above, Taiwan (71), Hong Kong (81), Macao (82) and the residence permits of
#: Taiwan residents (83). Province codes have been stable for decades; county codes change
#: and synthetic data uses retired ones, so only the province is checked.
PROVINCES = (*PROVINCES_1985, "71", "81", "82", "83")
EARLIEST_BIRTH = dt.date(1900, 1, 1)


def _birth_date(yyyymmdd: str) -> dt.date | None:
    try:
        return dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


def _real_birth(yyyymmdd: str) -> bool:
    born = _birth_date(yyyymmdd)
    return born is not None and EARLIEST_BIRTH <= born <= dt.date.today()


def compact(candidate: str) -> str:
    """The candidate without spaces and dashes, upper-case."""
    return candidate.replace(" ", "").replace("-", "").upper()


def is_resident_id(candidate: str) -> bool:
    """A GB 11643 citizen ID: 18 characters or a 15-digit first-generation ID.

    18 characters need a GB/T 2260 province code first (:data:`PROVINCES`), the
    ISO 7064 MOD 11-2 check character (computed by
    :func:`stdnum.cn.ric.calc_check_digit`) and a real birth date between
    1900-01-01 and today. The county code is not checked against a list: codes
    change and synthetic data uses retired ones, and a false negative lets an
    ID leave. 15 digits have no check digit: they need a province that issued
    them and a real ``19yymmdd`` birth date.

    >>> is_resident_id("11010519491231002x")
    True
    >>> is_resident_id("110105491231002")
    True
    >>> is_resident_id("110105194912310021")
    False
    >>> is_resident_id("490105194912310025")  # check character right, no province 49
    False
    """
    number = compact(candidate)
    if len(number) == 15 and number.isdigit():
        return number[:2] in PROVINCES_1985 and _real_birth("19" + number[6:12])
    if len(number) != 18 or not number[:17].isdigit():
        return False
    return (
        number[:2] in PROVINCES
        and ric.calc_check_digit(number) == number[17]
        and _real_birth(number[6:14])
    )


def reads_as_resident_id(candidate: str) -> bool:
    """18 characters, 17 digits first, a GB/T 2260 province and a birth year (1900 to now).

    Such a number is a resident ID, or one with a typo (a wrong check digit, an
    impossible day), far more often than a company code or a card: one in ten
    mistyped IDs passes Luhn and one in 31 the USCC check by chance. It is
    reported as neither. Without a province (:data:`PROVINCES`) it is no ID,
    valid or mistyped, and is judged as a card or a USCC like any other number.
    (A wider year range would also catch 18xx typos, but reject ~2 % more
    genuine 18-digit cards.)

    >>> reads_as_resident_id("622202199001011029"), reads_as_resident_id("498304199001010114")
    (True, False)
    """
    number = compact(candidate)
    if len(number) != 18 or not number[:17].isdigit() or number[:2] not in PROVINCES:
        return False
    return EARLIEST_BIRTH.year <= int(number[6:10]) <= dt.date.today().year


def is_uscc(candidate: str) -> bool:
    """A GB 32100 unified social credit code with its MOD 31 check character (stdnum)."""
    number = compact(candidate)
    return uscc.is_valid(number) and not reads_as_resident_id(number)


def is_card_number(candidate: str) -> bool:
    """16-19 digits with a Luhn check digit (stdnum) that are no USCC; what a card needs first."""
    number = compact(candidate)
    if not 16 <= len(number) <= 19 or not luhn.is_valid(number):
        return False
    return not (len(number) == 18 and is_uscc(number))


def reads_as_card_and_id(candidate: str) -> bool:
    """18 digits that pass Luhn and read as a resident ID (:func:`reads_as_resident_id`).

    About 1.3 % of 18-digit card numbers have a birth year where an ID has
    one, and one in ten mistyped IDs passes Luhn: such a number is decided by
    its context (:func:`is_bank_card`, :func:`is_resident_id_in`).
    """
    return is_card_number(candidate) and reads_as_resident_id(candidate)


def is_bank_card(candidate: str, card_context: bool = False) -> bool:
    """A card number (:func:`is_card_number`), unless it reads as an ID without a card word.

    The rule for 18 digits that pass Luhn *and* read as a resident ID (a birth
    year in place; valid or mistyped): the nearest card or ID word before the
    number decides (:func:`anonymize.context.card_word_nearest`). A card word
    (银行卡, 卡号, 账号 …) makes it a card; an ID word or no word makes it a
    resident ID when it passes GB 11643 (the more sensitive reading, the same
    span masked), and nothing when it does not (a mistyped ID: reported as
    neither, like any ID with a wrong check character).

    Args:
        candidate: The number as matched.
        card_context: Whether a card word is the nearest card or ID word before it.

    >>> is_bank_card("4111 1111 1111 1111")
    True
    >>> is_bank_card("622202199001011029"), is_bank_card("622202199001011029", True)
    (False, True)
    """
    if not is_card_number(candidate):
        return False
    return card_context or not reads_as_resident_id(candidate)


def is_resident_id_in(candidate: str, card_context: bool = False) -> bool:
    """A resident ID (:func:`is_resident_id`) that no card word claims.

    An ID that also passes Luhn is a card when a card word is the nearest card
    or ID word before it (see :func:`is_bank_card`); otherwise an ID.

    Args:
        candidate: The number as matched.
        card_context: Whether a card word is the nearest card or ID word before it.

    >>> is_resident_id_in("622202199001011003"), is_resident_id_in("622202199001011003", True)
    (True, False)
    """
    if not is_resident_id(candidate):
        return False
    return not (card_context and reads_as_card_and_id(candidate))


def is_person_name(candidate: str) -> bool:
    """A captured name that is no common word (高中, 江苏 …) and does not open with one.

    ``信用代`` (of 信用代码) or ``车牌云`` open with a word and are no names; a
    compound surname (欧阳) is exempt from the opening check.
    """
    words = common_words()
    opening = candidate[:2]
    return candidate not in words and (opening in COMPOUND_SURNAMES or opening not in words)


_ADDRESS_CHECKS = tuple(re.compile(p) for p in (ADDRESS_ROAD, ADDRESS_LEVELS, ADDRESS_NUMBER))


def is_address(candidate: str) -> bool:
    """A road, and two administrative levels (省, 市, 区 …) or a house number on the road.

    A bare 江苏省南京市 is a generalized location, not an address; 城市道路 has
    a road word and a single level.
    """
    road, levels, number = _ADDRESS_CHECKS
    return bool(road.search(candidate)) and bool(
        levels.search(candidate) or number.search(candidate)
    )


#: What a match must pass, read from the span alone. Two checks also read the context
#: (:data:`IN_CONTEXT`), and PERSON what follows (:attr:`Rule.follow`).
VALIDATORS: dict[Check, Callable[[str], bool]] = {
    "resident_id": is_resident_id,
    "bank_card": is_card_number,
    "uscc": is_uscc,
    "person": is_person_name,
    "address": is_address,
}


#: Checks whose verdict also depends on the nearest card or ID word (18-digit numbers).
IN_CONTEXT: dict[Check, Callable[[str, bool], bool]] = {
    "resident_id": is_resident_id_in,
    "bank_card": is_bank_card,
}


def entity_set(entities: Iterable[Entity | str] | None) -> frozenset[Entity]:
    """The entities asked for (all when None).

    Raises:
        AnonymizationError: A name is not one of :class:`~anonymize.entities.Entity`.
    """
    if entities is None:
        return frozenset(Entity)
    names = [str(e) for e in entities]
    unknown = sorted(n for n in names if n not in Entity.__members__)
    if unknown:
        raise AnonymizationError(
            f"unknown entity name(s) {', '.join(unknown)}; use the names of anonymize.Entity"
        )
    return frozenset(Entity(n) for n in names)


# --- one text ----------------------------------------------------------------------------------

_COMPILED: dict[Rule, tuple[re.Pattern[str], tuple[tuple[re.Pattern[str], float], ...]]] = {
    rule: (rule.python_regex(), tuple((re.compile(f), s) for f, s in rule.forms)) for rule in RULES
}
_FOLLOW = {rule: re.compile(rule.follow) for rule in RULES if rule.follow is not None}


def base_score(rule: Rule, span: str) -> float:
    """The rule's score for ``span``: the first matching form's, else the rule's."""
    for form, score in _COMPILED[rule][1]:
        if form.fullmatch(span):
            return score
    return rule.score


def straddled(padded: str, start: int, end: int, opening: bool = True) -> bool:
    """Whether a common two-character word straddles the end of ``padded[start:end]``, or
    (``opening``) its start; or a name's optional third character opens a word.

    A name of a surname and two given-name characters whose last character and
    the next one form a common word that takes the character (:func:`third_taken`)
    is read as the two-character name before that word (彭勇常年在外: 彭勇, not 彭勇常).
    """
    words = straddling_words()
    closing = padded[end - 1 : end + 1]
    if closing in words or (opening and padded[start - 1 : start + 1] in words):
        return True
    third = end - start == 3 and padded[start : start + 2] not in COMPOUND_SURNAMES
    return third and third_taken(closing, padded[end : end + 2])


def address_cut(padded: str, end: int, span: str) -> str:
    """An address ``span`` (ending at ``padded[end]``) without a trailing 楼 that is upstairs
    or downstairs (:data:`ADDRESS_STAIRS`): the run up to its previous end ('' if none)."""
    last, after, building = ADDRESS_STAIRS
    if not (span.endswith(last) and padded[end : end + 1] in tuple(after)):
        return span
    if len(span) > 1 and span[-2] in building:
        return span
    shorter = re.match(ADDRESS_UP_TO_END, span[:-1])
    return "" if shorter is None else shorter.group(1)


def address_lead(padded: str, start: int, span: str) -> int:
    """How many characters at the start of an address ``span`` (at ``padded[start]``) are a
    word that leads to it rather than part of it (:data:`ADDRESS_LEADS`)."""
    for previous, lead in ADDRESS_LEADS:
        opening = re.match(lead, span)
        if opening is not None and (not previous or padded[start - 1] in previous):
            return len(opening.group(1))
    return 0


def find_spans(rule: Rule, text: str) -> list[tuple[int, int, float]]:
    """Valid matches of ``rule`` in ``text`` as ``(start, end, base score)``, code points.

    Args:
        rule: One of :data:`RULES`.
        text: Already normalized with :func:`normalize`.
    """
    regex = _COMPILED[rule][0]
    follow = _FOLLOW.get(rule)
    shift = len(PAD_BEFORE)
    padded = PAD_BEFORE + text + PAD_AFTER
    spans = []
    for match in regex.finditer(padded):
        span = match.group(1)
        start = match.start(1) - shift
        if rule.check == "address":
            span = address_cut(padded, match.end(1), span)
            lead = address_lead(padded, match.start(1), span)
            span, start = span[lead:], start + lead
        if rule.check is not None and not VALIDATORS[rule.check](span):
            continue
        if follow is not None:
            after = padded[match.end(1) :][:FOLLOW_WIDTH]
            if rule.follow_word and after[:2] in ORG_WORDS:
                continue
            worded = rule.follow_word and after[:2] in following_words()
            if not (worded or follow.match(after)):
                continue
        if rule.bounded and straddled(padded, match.start(1), match.end(1), rule.kind == "behind"):
            continue
        if rule.check in IN_CONTEXT and not IN_CONTEXT[rule.check](
            span, card_word_nearest(text, start)
        ):
            continue
        spans.append((start, start + len(span), base_score(rule, span)))
    return spans


def drop_contained(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Spans of one entity without those inside another with at least their score.

    The rule of Presidio's ``EntityRecognizer.remove_duplicates``, which the
    Presidio path applies after context; the polars path applies it to PERSON,
    the one entity several rules find (repeats keep their highest score).

    >>> drop_contained([(0, 3, 0.6), (0, 3, 0.85), (1, 3, 0.7), (0, 2, 0.9)])
    [(0, 2, 0.9), (0, 3, 0.85)]
    """
    kept: list[tuple[int, int, float]] = []
    for start, end, score in sorted(set(spans), key=lambda s: (s[0], s[0] - s[1], -s[2])):
        inside = any(s <= start and end <= e and score <= v for s, e, v in kept)
        if not inside:
            kept.append((start, end, score))
    return sorted(kept)
