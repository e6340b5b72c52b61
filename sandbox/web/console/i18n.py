"""The console's languages: Chinese first (``zh_CN``), English second.

Messages are English ``msgid`` strings in the templates (``{{ _("…") }}``) and in the
console's Python (:func:`gettext`, or :func:`N_` to mark a constant translated at render
time). Their Chinese lives in Babel's message catalog
``locale/zh_CN/LC_MESSAGES/messages.po``, compiled in memory when first used (no ``.mo``
file to build or forget). The language of a request is chosen by :func:`choose` and held in
a context variable for the request, so templates and Python strings agree.
"""

from __future__ import annotations

import contextvars
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

#: The console's languages, first the default.
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
#: The cookie holding a viewer's choice (not a secret; a preference).
LANG_COOKIE = "console_lang"
CATALOGS = Path(__file__).parent / "locale"

_current: contextvars.ContextVar[str] = contextvars.ContextVar(
    "console_locale", default=DEFAULT_LOCALE
)


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of ``locale`` (English is the messages themselves)."""
    if locale == "en":
        return NullTranslations()
    with (CATALOGS / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def current() -> str:
    """The language of the request being served."""
    return _current.get()


def use(locale: str) -> contextvars.Token[str]:
    """Serve the rest of this request (context) in ``locale`` (unknown ones: the default)."""
    return _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def reset(token: contextvars.Token[str]) -> None:
    """Serve in the language before :func:`use` returned ``token``."""
    _current.reset(token)


def choose(asked: str | None, remembered: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The language to serve: asked for (``?lang=``), else remembered (cookie), else default.

    >>> choose("en", "zh_CN")
    'en'
    >>> choose(None, "en")
    'en'
    >>> choose("fr", None)
    'zh_CN'
    """
    for locale in (asked, remembered, default):
        if locale in LOCALES:
            return locale
    return DEFAULT_LOCALE


def html_lang() -> str:
    """The ``lang`` attribute of a page in the current language (BCP 47)."""
    return current().replace("_", "-")


def gettext(message: str) -> str:
    """``message`` in the current language."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message in the current language."""
    return translations(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction; translate it with :func:`gettext` when shown."""
    return message
