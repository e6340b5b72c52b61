"""Every console message has its Chinese: extracted with Babel, checked against the catalog.

Templates are read with Jinja2's Babel extractor, the console's Python (and the console's
error pages in :mod:`sandbox.web.hardening`) with Babel's Python extractor, keywords
``_``, ``gettext``, ``ngettext`` and ``N_``. A new string without a translation fails here,
whoever wrote it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract, extract_from_dir
from babel.messages.pofile import read_po

import jobs.kinds
from sandbox.web.console import i18n

CONSOLE = Path(i18n.__file__).parent
#: Python files outside the console folder whose messages the console shows.
#: The job kinds' descriptions (:class:`jobs.kinds.base.Phrase`) are shown on output pages.
ALSO = (
    CONSOLE.parent / "hardening.py",
    *sorted((Path(jobs.kinds.__file__).parent).glob("*/kind.py")),
)
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "Phrase": None}
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def messages() -> Iterator[tuple[str, int, str]]:
    """(file, line, msgid) of every message the console marks for translation."""
    for name, line, message, _comments, _context in extract_from_dir(
        CONSOLE, METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                yield name, line, msgid
    for path in ALSO:
        with path.open("rb") as source:
            for line, message, _comments, _context in extract("python", source, KEYWORDS):
                for msgid in message if isinstance(message, tuple) else (message,):
                    if msgid:
                        yield path.name, line, msgid


def test_messages_when_extracted_then_found_in_templates_and_code():
    found = {m for _, _, m in messages()}
    # one from a template, one from Python, one from the error pages: the extractors run
    assert {"Sign in", "Approval recorded.", "No such page in the console."} <= found


def test_catalog_when_any_console_message_is_untranslated_then_fail():
    with (CONSOLE / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="zh_CN")
    missing = sorted(
        f"{name}:{line}: {msgid!r}"
        for name, line, msgid in messages()
        if not (entry := catalog.get(msgid))
        or entry.fuzzy
        or not (entry.string if isinstance(entry.string, str) else all(entry.string))
    )
    assert not missing, "messages without a zh_CN translation:\n" + "\n".join(missing)


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_catalog_when_compiled_then_it_loads(locale: str):
    assert i18n.translations(locale).gettext("Review console")
