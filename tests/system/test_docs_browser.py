"""/docs and /redoc in headless Chromium: they render from the service's own assets, and the
CSP (scripts from 'self' only) blocks nothing they need."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.cli.demo import free_port, serving
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.web.console.screenshots import CHROMIUM
from tests.factories import RefusingRunner

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}; .ci/run installs it")
        pytest.skip(f"Chromium is missing at {CHROMIUM}")
    sandbox = Sandbox(Settings(data_dir=tmp_path / "data"), runner=RefusingRunner())
    with serving(sandbox, free_port()) as served:
        yield served


@pytest.mark.parametrize(
    ("page", "rendered"), [("/docs", ".swagger-ui .info .title"), ("/redoc", ".api-info h1")]
)
def test_docs_in_chromium_when_opened_then_rendered_offline_without_csp_violations(
    url: str, page: str, rendered: str
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context()
            outside: list[str] = []
            # nothing may be fetched from another origin (no CDN, no fonts)
            context.route(
                lambda u: not u.startswith(url),
                lambda route: (outside.append(route.request.url), route.abort()),
            )
            tab = context.new_page()
            problems: list[str] = []
            tab.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            tab.on("pageerror", lambda e: problems.append(str(e)))
            tab.goto(url + page)
            tab.wait_for_selector(rendered, timeout=30_000)
            assert "Data Sandbox" in tab.inner_text(rendered)
        finally:
            browser.close()
    assert not outside, outside
    blocked = [p for p in problems if "Content Security Policy" in p]
    # ReDoc's "powered by" logo points at its CDN: the CSP blocks it, and nothing else
    assert all("cdn.redoc.ly/redoc/logo" in p for p in blocked), blocked
