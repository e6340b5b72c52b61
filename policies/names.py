"""Names people read: datasets, organisations and users (art. 63).

The audit chain, the console and every listing name who did what to which
dataset; a name that renders like another one (a Cyrillic ``а`` in
``pаypal``, a zero-width space, a right-to-left override, a trailing
newline) lets one party pass for another in front of a reviewer. A name is
first put in Unicode normalization form NFKC (fullwidth ``ＡＢＣ`` becomes
``ABC``, ``①`` becomes ``1``) and then refused when it holds:

- a control, format (zero-width, bidirectional), private-use, surrogate or
  unassigned character, or a line or paragraph separator;
- a character Unicode says to render invisibly where unsupported
  (Default_Ignorable_Code_Point: the combining grapheme joiner, variation
  selectors, Hangul fillers, ...) or the blank braille pattern U+2800;
- white space other than the plain space, a space at either end, or two
  spaces in a row;
- a decimal digit other than ``0``-``9`` (``৪`` reads as ``8``);
- letters of more than one of the alphabets that share look-alike letters:
  Latin, Greek, Cyrillic, Armenian, Cherokee, Coptic and Lisu.

- Chinese characters with Japanese kana (Katakana or Hiragana), some of which
  look like them: ``江苏エ信厅`` (Katakana ``エ``) passes for ``江苏工信厅``.
  The deployment is Chinese: its names hold no kana among Chinese characters.

Chinese, Japanese and Korean characters mix freely with digits and with one
of those alphabets: ``2025年人口``, ``Jiangsu人口`` and
``江苏省数据局 (Jiangsu Data Bureau)`` are names; ``Jiangsu人口`` with a
Cyrillic ``і`` is not.
"""

from __future__ import annotations

import unicodedata

from policies.errors import InvalidRequest

#: Alphabets whose letters look like one another's (Unicode TR 39 confusables);
#: a name uses letters of at most one of them.
CONFUSABLE_SCRIPTS = frozenset(
    {"LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "CHEROKEE", "COPTIC", "LISU"}
)
#: Unicode general categories a name never holds: controls (Cc), format characters
#: such as zero-width and bidirectional marks (Cf), surrogates (Cs), private use (Co),
#: unassigned (Cn), line and paragraph separators (Zl, Zp).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: Default_Ignorable_Code_Point (Unicode 15.1, DerivedCoreProperties.txt) as first and
#: last code points, and U+2800 BRAILLE PATTERN BLANK, which renders as a space.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),  # zero-width space, joiners, direction marks
    (0x202A, 0x202E),  # bidirectional embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, isolates
    (0x2800, 0x2800),  # braille pattern blank (not default-ignorable, but as blank)
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero-width no-break space (byte-order mark)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),  # unassigned specials
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
#: First words of the Unicode names of Japanese kana (``ー`` reads as ``一``).
_KANA = frozenset({"KATAKANA", "HIRAGANA", "KATAKANA-HIRAGANA"})


def _invisible(char: str) -> bool:
    """Whether ``char`` is in :data:`_INVISIBLE_RANGES`."""
    point = ord(char)
    return any(first <= point <= last for first, last in _INVISIBLE_RANGES)


def _script(char: str) -> str | None:
    """The alphabet of a letter among :data:`CONFUSABLE_SCRIPTS`, or None."""
    word = unicodedata.name(char, "").split(" ", 1)[0]
    return word if word in CONFUSABLE_SCRIPTS else None


def check_name(value: str, what: str) -> str:
    """Return ``value`` in NFKC form, or raise if people could misread it.

    Args:
        value: The name as given.
        what: What is named, for the message (``"organisation name"``).

    Returns:
        The NFKC-normalized name, to store instead of ``value``.

    Raises:
        InvalidRequest: The name is empty or holds what the module docstring lists;
            the message names the character's code point, never the name.

    >>> check_name("Ｊｉａｎｇｓｕ人口", "dataset name")
    'Jiangsu人口'
    >>> can_name("p\\u0430ypal")  # Cyrillic а among Latin letters
    False
    >>> can_name("2025年人口"), can_name("admin\\n")
    (True, False)
    """
    name = unicodedata.normalize("NFKC", value)
    # art. 63: the audit record names each party; a name must read one way only.
    if not name.strip():
        raise InvalidRequest(f"the {what} is empty: give a name people can read")
    if name != name.strip(" "):
        raise InvalidRequest(f"the {what} starts or ends with a space: remove it")
    if "  " in name:
        raise InvalidRequest(f"the {what} has two spaces in a row: use one")
    scripts: set[str] = set()
    han = kana = False
    for char in name:
        category = unicodedata.category(char)
        if (
            category in _REFUSED_CATEGORIES
            or (category == "Zs" and char != " ")
            or (char > "\xac" and _invisible(char))
        ):
            raise InvalidRequest(
                f"the {what} holds an invisible, control or direction character "
                f"(U+{ord(char):04X}, e.g. a newline, zero-width or right-to-left mark): "
                "remove it"
            )
        if category == "Nd" and not "0" <= char <= "9":
            raise InvalidRequest(
                f"the {what} holds a digit other than 0-9 (U+{ord(char):04X}): write it as 0-9"
            )
        if category.startswith("L"):
            if (script := _script(char)) is not None:
                scripts.add(script)
            word = unicodedata.name(char, "").split(" ", 1)[0]
            han = han or word == "CJK"
            kana = kana or word in _KANA
    if han and kana:
        raise InvalidRequest(
            f"the {what} mixes Chinese characters with Japanese kana, some of which look "
            "like them (エ and 工): write it in Chinese characters alone"
        )
    if len(scripts) > 1:
        raise InvalidRequest(
            f"the {what} mixes letters of {' and '.join(sorted(s.title() for s in scripts))} "
            "that look alike: write it in one alphabet (Chinese characters and digits may "
            "join any one of them)"
        )
    return name


def can_name(value: str) -> bool:
    """Whether ``value`` is an acceptable name; see :func:`check_name`."""
    try:
        check_name(value, "name")
    except InvalidRequest:
        return False
    return True
