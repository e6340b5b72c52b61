"""The console's formats: the time-zone setting, and the filters templates use."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from sandbox.settings import Settings
from sandbox.web.console import i18n
from sandbox.web.console.web import TEMPLATES

MOMENT = dt.datetime(2026, 12, 5, 3, 23, tzinfo=dt.UTC)


def _render(source: str, zone: str | None = None, **context: object) -> str:
    request = None
    if zone is not None:
        settings = SimpleNamespace(console_timezone=zone)
        request = SimpleNamespace(
            app=SimpleNamespace(state=SimpleNamespace(sandbox=SimpleNamespace(settings=settings)))
        )
    return TEMPLATES.env.from_string(source).render(request=request, **context)


def test_console_timezone_when_unset_then_shanghai():
    assert Settings().console_timezone == "Asia/Shanghai"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", ""])
def test_console_timezone_when_not_an_iana_zone_then_settings_refuse(zone: str):
    with pytest.raises(ValidationError, match="IANA time zone"):
        Settings(console_timezone=zone)


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        (None, "2026-12-05 11:23 (UTC+8)"),  # no request: the default zone
        ("Asia/Shanghai", "2026-12-05 11:23 (UTC+8)"),
        ("UTC", "2026-12-05 03:23 (UTC)"),
        ("America/Sao_Paulo", "2026-12-05 00:23 (UTC-3)"),
    ],
)
def test_when_filter_when_a_zone_is_set_then_times_shown_in_it(zone: str | None, shown: str):
    assert _render("{{ t | when }}", zone, t=MOMENT) == shown


def test_number_filters_when_rendered_then_grouped_rounded_never_scientific():
    out = _render(
        "{{ n | num }}|{{ e | eps }}|{{ d | delta }}|{{ x | plain }}",
        n=3666440.0,
        e=1.200000001,
        d=1e-6,
        x={"理由": "太细"},
    )
    assert out == "3,666,440|1.2|1 × 10⁻⁶|{&#34;理由&#34;: &#34;太细&#34;}"


@pytest.mark.parametrize(("locale", "shown"), [("zh_CN", "已暂停"), ("en", "suspended")])
def test_term_filter_when_a_stored_state_then_shown_in_the_language(locale: str, shown: str):
    token = i18n.use(locale)
    try:
        assert _render("{{ s | term }}", s="suspended") == shown
    finally:
        i18n._current.reset(token)
