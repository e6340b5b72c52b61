"""Names people read: datasets, organisations and users (art. 63).

The audit chain, the console and every listing name who did what to which
dataset; a name that renders like another one (a Cyrillic ``а`` in
``pаypal``, a zero-width space, a right-to-left override, a trailing
newline) lets one party pass for another in front of a reviewer. A name is
first put in Unicode normalization form NFKC (fullwidth ``ＡＢＣ`` becomes
``ABC``, ``①`` becomes ``1``) and then refused when it holds:

- a control, format (zero-width, bidirectional), private-use, surrogate or
  unassigned character, or a line or paragraph separator;
- white space other than the plain space, a space at either end, or two
  spaces in a row;
- a decimal digit other than ``0``-``9`` (``৪`` reads as ``8``);
- letters of more than one of the alphabets that share look-alike letters:
  Latin, Greek, Cyrillic, Armenian, Cherokee, Coptic and Lisu.

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
    for char in name:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES or (category == "Zs" and char != " "):
            raise InvalidRequest(
                f"the {what} holds an invisible, control or direction character "
                f"(U+{ord(char):04X}, e.g. a newline, zero-width or right-to-left mark): "
                "remove it"
            )
        if category == "Nd" and not "0" <= char <= "9":
            raise InvalidRequest(
                f"the {what} holds a digit other than 0-9 (U+{ord(char):04X}): write it as 0-9"
            )
        if category.startswith("L") and (script := _script(char)) is not None:
            scripts.add(script)
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
