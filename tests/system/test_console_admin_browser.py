"""The admin and ingest pages in a real browser: headless Chromium against a uvicorn server.

In Chinese and English, at 1366×768 with no horizontal scroll. Screenshots go to
``$SANDBOX_TEST_ARTIFACTS/console`` (default ``tests/artifacts/console``), beside those
of :mod:`tests.system.test_console_browser`. No job runs: the server needs no Ray.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.cli.demo import free_port, serving
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.web.console.screenshots import CHROMIUM, capture_admin
from tests.factories import RefusingRunner, World, build_world
from tests.integration.test_console_ingest_no_ray import _people, gbk_csv
from tests.system.test_console_browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The smallest screen the console must fit without horizontal scroll.
SMALL = {"width": 1366, "height": 768}
WORDS = {
    "zh_CN": {
        "users": "用户",
        "user_created": "用户已创建",
        "deactivated": "用户已停用",
        "orgs": "组织",
        "org_created": "组织已创建",
        "tokens": "令牌",
        "issued": "令牌已签发",
        "revoked": "令牌已吊销",
        "ingest": "导入数据",
        "confirm": "确认导入",
        "direct": "直接标识符",
        "refused": "数据集未导入",
    },
    "en": {
        "users": "Users",
        "user_created": "User created",
        "deactivated": "User deactivated",
        "orgs": "Organisations",
        "org_created": "Organisation created",
        "tokens": "Tokens",
        "issued": "Token issued",
        "revoked": "Token revoked",
        "ingest": "Ingest",
        "confirm": "Confirm the ingest",
        "direct": "direct identifier",
        "refused": "The dataset was not ingested",
    },
}


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}; .ci/run installs it")
        pytest.skip(f"Chromium is missing at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, World]]:
    """A real server on a free loopback port; it runs no job."""
    sandbox = Sandbox(Settings(data_dir=tmp_path / "data"), runner=RefusingRunner())
    with serving(sandbox, free_port()) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield url, build_world(http, sandbox)  # type: ignore[arg-type]


def _fits(page: object) -> None:
    """No horizontal scroll at 1366 px."""
    width = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width <= SMALL["width"], f"{page.url} is {width} px wide"  # type: ignore[attr-defined]


def _shot(page: object, lang: str, name: str) -> None:
    _fits(page)
    path = ARTIFACTS / f"{'zh' if lang == 'zh_CN' else 'en'}-{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_admin_pages_in_chromium_when_admin_creates_org_user_and_token_then_revokes(
    live: tuple[str, World], chromium: str, lang: str
):
    from playwright.sync_api import expect, sync_playwright

    url, world = live
    words = WORDS[lang]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport=SMALL)  # type: ignore[arg-type]
        page.set_default_timeout(30_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{url}/console/login?lang={lang}")
        page.fill("#token", world.admin)
        page.click("#sign-in")
        expect(page).to_have_url(re.compile(r".*/console/admin/users$"))
        expect(page.locator("h1")).to_have_text(words["users"])
        expect(page.locator("html")).to_have_attribute("lang", lang.replace("_", "-"))

        page.click("#nav-orgs")
        page.fill("#org_name", "苏州数据科技有限公司")
        page.select_option("#org_kind", "operator")
        page.click("#create-org")
        expect(page.locator("#notice")).to_contain_text(words["org_created"])
        expect(page.locator("table.orgs")).to_contain_text("苏州数据科技有限公司")
        _shot(page, lang, "admin-orgs")

        page.click("#nav-users")
        page.fill("#user_name", "李分析")
        page.select_option("#user_role", "operator")
        org = page.locator("#user_org option", has_text="苏州数据科技有限公司")
        page.select_option("#user_org", org.get_attribute("value"))
        page.click("#create-user")
        expect(page.locator("h1")).to_have_text(words["user_created"])
        token = page.locator("#new-token").inner_text()
        assert token.startswith("sbx_")
        assert (
            world.http.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["name"]
            == "李分析"
        )
        _shot(page, lang, "admin-token")

        page.click("#nav-users")
        _shot(page, lang, "admin-users")
        row = page.locator("tr.user-row", has_text="李分析")
        row.locator("button.deactivate").click()
        expect(page.locator("#notice")).to_contain_text(words["deactivated"])
        assert (
            world.http.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
            == 401
        )

        page.click("#nav-tokens")
        user = page.locator("#token_user option", has_text=re.compile(r"^operator "))
        page.select_option("#token_user", user.get_attribute("value"))
        page.fill("#token_label", "Jupyter 笔记本")
        page.click("#issue-token")
        expect(page.locator("h1")).to_have_text(words["issued"])
        issued = page.locator("#new-token").inner_text()
        page.click("#nav-tokens")
        expect(page.locator("table.tokens")).to_contain_text("Jupyter 笔记本")
        assert issued not in page.content()
        _shot(page, lang, "admin-tokens")
        page.locator("tr.token-row", has_text="Jupyter 笔记本").locator("button.revoke").click()
        expect(page.locator("#notice")).to_contain_text(words["revoked"])
        assert (
            world.http.get("/v1/me", headers={"Authorization": f"Bearer {issued}"}).status_code
            == 401
        )

        seen = len(problems)
        refused = page.goto(f"{url}/console/queue")  # a review page: not an admin's
        assert refused is not None and refused.status == 403
        _fits(page)
        assert all("403" in p for p in problems[seen:])  # the browser logs the refusal
        del problems[seen:]
        page.goto(f"{url}/console/admin/users")
        page.click("#logout")
        expect(page).to_have_url(re.compile(r".*/console/login$"))
        browser.close()
    assert problems == []


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_ingest_pages_in_chromium_when_steward_uploads_gbk_csv_then_confirms_and_ingests(
    live: tuple[str, World], chromium: str, lang: str
):
    from playwright.sync_api import expect, sync_playwright

    url, world = live
    words = WORDS[lang]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport=SMALL)  # type: ignore[arg-type]
        page.set_default_timeout(30_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{url}/console/login?lang={lang}")
        page.fill("#token", world.steward)
        page.click("#sign-in")
        expect(page).to_have_url(re.compile(r".*/console/queue$"))
        page.click("#nav-ingest")
        expect(page).to_have_url(re.compile(r".*/console/datasets/new$"))
        expect(page.locator("#nav-ingest")).to_have_text(words["ingest"])
        _shot(page, lang, "ingest-upload")
        page.set_input_files(
            "#file", {"name": "居民.csv", "mimeType": "text/csv", "buffer": gbk_csv()}
        )
        page.click("#propose")
        expect(page.locator("h1")).to_have_text(words["confirm"])
        expect(page.locator("table.proposals")).to_contain_text("手机号")
        expect(page.locator('tr.proposal-row[data-column="1"]')).to_contain_text(words["direct"])
        content = page.content()
        assert not [p for p in _people() if p[0] in content or p[1] in content]
        _shot(page, lang, "ingest-confirm")

        # a less protective tag without a reason: refused at the top, values kept
        page.select_option('select[name="tag_1"]', "plain")
        page.fill("#ds_name", "residents_excel")
        page.fill("#ds_source", "江苏省人口库（Excel 导出）")
        page.select_option("#ds_unit", "手机号")
        seen = len(problems)
        page.click("#ingest")
        expect(page.locator("#form-error")).to_contain_text(words["refused"])
        assert all("422" in p for p in problems[seen:])  # the browser logs the refusal
        del problems[seen:]
        expect(page.locator("#ds_source")).to_have_value("江苏省人口库（Excel 导出）")
        expect(page.locator('select[name="tag_1"]')).to_have_value("plain")
        _shot(page, lang, "ingest-refused")
        page.select_option('select[name="tag_1"]', "direct_identifier")
        page.click("#ingest")
        expect(page).to_have_url(re.compile(r".*/console/catalog#dataset-residents_excel$"))
        expect(page.locator("#dataset-residents_excel")).to_contain_text("手机号")
        page.click("#logout")
        browser.close()
    assert problems == []
    stored = world.http.get("/v1/datasets/residents_excel", headers=world.as_("steward")).json()
    assert stored["privacy_unit"] == "手机号"


def test_capture_admin_when_chromium_present_then_chinese_admin_and_ingest_screenshots(
    live: tuple[str, World], chromium: str, tmp_path: Path
):
    url, world = live
    shots = capture_admin(url, world.admin, world.steward, tmp_path, executable_path=chromium)
    assert [p.name for p in shots] == [
        "console-admin-users.png",
        "console-admin-orgs.png",
        "console-admin-tokens.png",
        "console-datasets-new.png",
        "console-datasets-confirm.png",
    ]
    assert all(p.read_bytes().startswith(b"\x89PNG") and p.stat().st_size > 5000 for p in shots)
    assert not list((world.sandbox.settings.data_dir / "uploads").glob("console-*"))  # discarded
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for shot in shots:  # the demo's set, kept beside the test's
        (ARTIFACTS / shot.name).write_bytes(shot.read_bytes())
