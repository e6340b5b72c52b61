"""How the console shows times, numbers and privacy parameters, in the reader's language.

Babel formats by locale (CLDR data): numbers grouped and never in scientific
notation, times in the console's zone (``console_timezone``, Asia/Shanghai by
default) with the zone shown. Templates use them as filters registered in
:mod:`sandbox.web.console.web`: ``|when``, ``|num``, ``|eps``, ``|delta``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal

#: The zone shown when no setting says otherwise (the bureaus are in China).
DEFAULT_ZONE = "Asia/Shanghai"
#: Significant digits ε is shown with.
EPS_DIGITS = 3
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _instant(value: object) -> dt.datetime | None:
    """A datetime, or an ISO 8601 text of one (naive ones are UTC, as the store keeps them)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def when(value: object, locale: str = "zh_CN", zone: str = DEFAULT_ZONE) -> str:
    """A moment as the reader's wall clock shows it, with its offset from UTC.

    Args:
        value: A datetime (naive: UTC) or its ISO 8601 text; anything else shows as ``""``.
        locale: A Babel locale (``zh_CN``, ``en``).
        zone: An IANA time zone name.

    >>> t = dt.datetime(2026, 12, 5, 3, 23, tzinfo=dt.UTC)
    >>> when(t)
    '2026-12-05 11:23 (UTC+8)'
    >>> when("2026-12-05T03:23:00", "en", "Asia/Kolkata")
    '2026-12-05 08:53 (UTC+5:30)'
    >>> when("2026-12-05T03:23:00+00:00", "en", "UTC")
    '2026-12-05 03:23 (UTC)'
    >>> when(None)
    ''
    """
    instant = _instant(value)
    if instant is None:
        return ""
    local = instant.astimezone(ZoneInfo(zone))
    shown = format_datetime(local, "yyyy-MM-dd HH:mm", locale=locale)
    return f"{shown} ({_offset(local.utcoffset() or dt.timedelta())})"


def _offset(offset: dt.timedelta) -> str:
    """``UTC+8``, ``UTC-3:30``, ``UTC``: short, and the same in every language."""
    minutes = int(offset.total_seconds()) // 60
    if not minutes:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def num(value: object, locale: str = "zh_CN") -> str:
    """A number grouped by thousands, never in scientific notation.

    Whole numbers show whole; others with three decimals at most (three significant
    digits below 1). Anything not a number shows as itself.

    >>> num(3666440.0), num(1.200000001), num(1234567), num(0.000123456), num(0)
    ('3,666,440', '1.2', '1,234,567', '0.000123', '0')
    >>> num(None), num("residents"), num(float("nan"))
    ('', 'residents', 'NaN')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return format_decimal(value, locale=locale)
    places, size = 3, abs(float(value))
    if 0 < size < 1:
        places = max(places, EPS_DIGITS - 1 - math.floor(math.log10(size)))
    return format_decimal(value, format="#,##0." + "#" * places, locale=locale)


def eps(value: object, locale: str = "zh_CN") -> str:
    """A privacy loss ε rounded to three significant digits (whole numbers kept whole).

    >>> eps(1.200000001), eps(0.123456), eps(12.3456), eps(2.9999999), eps(250.4), eps(0)
    ('1.2', '0.123', '12.3', '3', '250', '0')
    >>> eps(None)
    ''
    """
    if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
        return "" if value is None else str(value)
    x = float(value)
    if x == 0 or not math.isfinite(x):
        return num(x, locale)
    places = max(0, EPS_DIGITS - 1 - math.floor(math.log10(abs(x))))
    return format_decimal(round(x, places), format="#,##0." + "#" * places, locale=locale)


def delta(value: object, locale: str = "zh_CN") -> str:
    """A failure probability δ as a power of ten (``1 × 10⁻⁶``); 0 shows as ``0``.

    >>> delta(1e-6), delta(2.5e-7), delta(0.0), delta(0.05), delta(1e-5 * 3)
    ('1 × 10⁻⁶', '2.5 × 10⁻⁷', '0', '0.05', '3 × 10⁻⁵')
    """
    if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
        return "" if value is None else str(value)
    x = float(value)
    if x == 0 or not math.isfinite(x) or abs(x) >= 1e-3:
        return eps(x, locale)
    exponent = math.floor(math.log10(abs(x)))
    mantissa = round(x / 10**exponent, EPS_DIGITS - 1)
    if abs(mantissa) >= 10:  # 9.999 rounds up to the next power
        mantissa, exponent = mantissa / 10, exponent + 1
    digits = format_decimal(mantissa, format="0.##", locale=locale)
    return f"{digits} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def plain(value: object, locale: str = "zh_CN") -> str:
    """A stored value as a person reads it: text as itself (Chinese as Chinese, never
    ``\\u`` escapes), numbers grouped, lists joined, anything nested as compact JSON.

    >>> plain("同意发布"), plain(3666440), plain(["a", "b"]), plain({"理由": "太细"})
    ('同意发布', '3,666,440', 'a, b', '{"理由": "太细"}')
    >>> plain(True), plain(None)
    ('true', '')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return num(value, locale)
    if isinstance(value, list | tuple) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        return ", ".join(plain(v, locale) for v in value)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
