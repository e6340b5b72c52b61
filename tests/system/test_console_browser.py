"""The review console in a real browser: headless Chromium against a real uvicorn server.

Screenshots are kept as artifacts in ``$SANDBOX_TEST_ARTIFACTS/console`` (default
``tests/artifacts/console``); the variable is read at import, before the
autouse fixture that clears ``SANDBOX_*`` runs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.cli.demo import free_port, serving
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.web.console.screenshots import CHROMIUM, capture
from tests.factories import World, aggregate_spec, build_world, wait_status
from tests.integration.test_console_review import EXTRACT_REPORT, _job, _review

pytestmark = [pytest.mark.browser, pytest.mark.ray, pytest.mark.slow]

ARTIFACTS = (
    Path(os.environ.get("SANDBOX_TEST_ARTIFACTS", Path(__file__).parents[1] / "artifacts"))
    / "console"
)


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}; .ci/run installs it")
        pytest.skip(f"Chromium is missing at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture
def live(tmp_path: Path, ray_runner: object) -> Iterator[tuple[str, World]]:
    """A real server on a free loopback port with two outputs awaiting review and a grant."""
    settings = Settings(data_dir=tmp_path / "data")
    sandbox = Sandbox(settings, runner=ray_runner)  # type: ignore[arg-type]
    with serving(sandbox, free_port()) as url, httpx.Client(base_url=url, timeout=60) as http:
        world = build_world(http, sandbox)  # type: ignore[arg-type]
        yield url, world


def _awaiting(world: World, **spec: Any) -> int:
    response = world.submit(**spec)
    assert response.status_code == 202, response.text
    job_id = int(response.json()["id"])
    wait_status(world, job_id, {"awaiting_review"})
    return job_id


#: A common office screen: every page fits its width (no sideways scrolling).
VIEWPORT = {"width": 1366, "height": 768}


def _fits(page: Any, where: str) -> None:
    """The page needs no horizontal scroll at 1366 px (tables scroll inside their own box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"{where} is {width} px wide"


def test_console_in_chromium_when_steward_signs_in_then_approves_rejects_and_suspends(
    live: tuple[str, World], chromium: str
):
    """In Chinese, the console's first language; screenshots of every page are kept."""
    from playwright.sync_api import expect, sync_playwright

    url, world = live
    approve_id = _awaiting(world)
    reject_id = _awaiting(world, group_by=["age"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport=VIEWPORT, locale="zh-CN")  # type: ignore[arg-type]
        page.set_default_timeout(30_000)
        problems: list[str] = []  # CSP violations and script errors show up here
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{url}/console/queue")
        expect(page).to_have_url(re.compile(r".*/console/login$"))
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.locator("h1")).to_have_text("登录")
        _fits(page, "login")
        page.screenshot(path=str(ARTIFACTS / "00-login.png"), full_page=True)
        page.fill("#token", world.steward)
        page.click("#sign-in")
        expect(page).to_have_url(re.compile(r".*/console/queue$"))
        expect(page.locator("tr.job-row")).to_have_count(2)
        _fits(page, "queue")
        page.screenshot(path=str(ARTIFACTS / "01-queue.png"), full_page=True)

        page.click(f'a[href="/console/jobs/{approve_id}"]')
        expect(page.locator("#error-bars svg").first).to_be_visible()
        _fits(page, "output")
        page.screenshot(path=str(ARTIFACTS / "02-output.png"), full_page=True)
        page.fill("#reason", "按城市汇总的公开统计，检查全部通过")
        page.click("#approve")
        expect(page.locator("#notice")).to_contain_text("已批准并发布")
        page.screenshot(path=str(ARTIFACTS / "03-approved.png"), full_page=True)

        page.goto(f"{url}/console/jobs/{reject_id}")
        page.fill("#reason", "按年龄的表格超出了申报的用途")
        page.click("#reject")
        expect(page.locator("#notice")).to_contain_text("已驳回")
        page.screenshot(path=str(ARTIFACTS / "04-rejected.png"), full_page=True)

        page.click('header a[href="/console/grants"]')
        row = page.locator(f'tr.grant-row[data-grant="{world.grant_id}"]')
        row.locator('input[name="reason"]').fill("运营机构超出了授权范围")
        row.locator("button.suspend").click()
        expect(row.locator(".state")).to_have_text("已暂停")
        _fits(page, "grants")
        page.screenshot(path=str(ARTIFACTS / "05-grant-suspended.png"), full_page=True)

        # a refused grant form: the reason at the top, what was typed kept
        page.fill("#purpose", "2026 年统计年鉴的人口统计")
        page.fill("#limit_wall_s", "99999")
        page.locator("#limit_wall_s").evaluate("e => e.removeAttribute('max')")
        page.click("#create-grant")
        expect(page.locator("#grant-error")).to_contain_text("授权未创建")
        expect(page.locator("#purpose")).to_have_value("2026 年统计年鉴的人口统计")
        _fits(page, "refused grant form")
        page.screenshot(path=str(ARTIFACTS / "06-grant-refused.png"), full_page=True)

        for n, path in enumerate(("catalog", "audit"), start=7):
            page.click(f'header a[href="/console/{path}"]')
            expect(page).to_have_url(re.compile(f".*/console/{path}$"))
            _fits(page, path)
            page.screenshot(path=str(ARTIFACTS / f"0{n}-{path}.png"), full_page=True)
        expect(page.locator("#chain")).to_contain_text("哈希链校验通过")
        expect(page.locator("table.audit")).to_contain_text("运营机构超出了授权范围")

        page.click("#logout")
        expect(page).to_have_url(re.compile(r".*/console/login$"))
        browser.close()

    # the refused grant form answers 422 on purpose; anything else is a problem
    assert [p for p in problems if "status of 422" not in p] == []
    assert len(problems) <= 1
    statuses = {
        j: world.http.get(f"/v1/jobs/{j}", headers=world.as_("steward")).json()["status"]
        for j in (approve_id, reject_id)
    }
    assert statuses == {approve_id: "released", reject_id: "rejected"}
    assert world.grant()["state"] == "suspended"
    shots = sorted(p.name for p in ARTIFACTS.glob("0*.png"))
    assert len(shots) == 9
    assert all((ARTIFACTS / s).read_bytes().startswith(b"\x89PNG") for s in shots)


def test_console_in_chromium_when_english_is_chosen_then_pages_are_english_and_fit(
    live: tuple[str, World], chromium: str
):
    """The switch in the header turns the console English, and the choice is remembered."""
    from playwright.sync_api import expect, sync_playwright

    url, world = live
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        page.set_default_timeout(30_000)
        page.goto(f"{url}/console/login")
        page.click("#lang-en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.fill("#token", world.auditor)
        page.click("#sign-in")
        expect(page).to_have_url(re.compile(r".*/console/queue$"))
        for path, heading in (
            ("grants", "Grants"),
            ("catalog", "Catalog"),
            ("audit", "Audit log"),
        ):
            page.click(f'header a[href="/console/{path}"]')
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("h1")).to_have_text(heading)
            _fits(page, f"{path} (English)")
            page.screenshot(path=str(ARTIFACTS / f"en-{path}.png"), full_page=True)
        page.click("#lang-zh_CN")  # and back
        expect(page.locator("h1")).to_have_text("审计日志")
        browser.close()


def test_capture_when_chromium_present_then_queue_and_output_screenshots(
    live: tuple[str, World], chromium: str, tmp_path: Path
):
    url, world = live
    _awaiting(world)
    shots = capture(url, world.auditor, tmp_path / "shots", executable_path=chromium)
    assert [p.name for p in shots] == [
        "console-queue.png",
        "console-output.png",
        "console-grants.png",
        "console-catalog.png",
        "console-audit.png",
    ]
    assert all(p.read_bytes().startswith(b"\x89PNG") and p.stat().st_size > 5000 for p in shots)


def test_capture_when_nothing_awaits_review_then_the_newest_job_is_shown(
    live: tuple[str, World], chromium: str, tmp_path: Path
):
    url, world = live
    job_id = _awaiting(world)
    world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "approve", "reason": "aggregates look fine"},
    )
    shots = capture(url, world.steward, tmp_path, executable_path=chromium)
    assert [p.name for p in shots][:2] == ["console-queue.png", "console-output.png"]


LAPTOP = VIEWPORT


def _review_pages(world: World) -> dict[str, int]:
    """One job of each review situation: a real DP aggregate (Ray), an extract's risk report,
    a table flagged for differencing, a job returned for changes."""
    strict = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={
            "org_id": world.firm_id,
            "datasets": ["residents"],
            "purpose": "statistics with a strict cell threshold",
            "kinds": ["aggregate"],
            "epsilon": 5.0,
            "min_cell": 20,
            "commitment_required": True,
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        },
    ).json()["id"]

    def table(age: int, status: str) -> int:
        spec = aggregate_spec(filters=[{"column": "age", "op": "ge", "value": age}])
        return _job(world, spec, status=status, epsilon=1.0, grant_id=strict)

    table(30, "released")
    returned = _job(world, aggregate_spec(group_by=["age"]), status="returned", epsilon=1.0)
    _review(world, returned, "steward", "return", "请按年龄段分组，不要按单个年龄分组")
    extract = {"kind": "extract", "dataset": "residents", "columns": ["age", "city", "income"]}
    return {
        "aggregate": _awaiting(world),
        "extract": _job(world, extract, report=EXTRACT_REPORT),
        "differencing": table(31, "awaiting_review"),  # ten people from the release: flagged
        "returned": returned,
    }


@pytest.mark.parametrize(
    ("lang", "html_lang", "words"),
    [
        (
            "zh_CN",
            "zh-CN",
            {
                "queue": "待审核的输出",
                "aggregate": "任一发布结果出现的概率最多相差",
                "extract": "风险报告",
                "differencing": "差分攻击风险",
                "returned": "退回修改：",
            },
        ),
        (
            "en",
            "en",
            {
                "queue": "Outputs awaiting review",
                "aggregate": "changes the probability of any released result",
                "extract": "Risk report",
                "differencing": "Differencing risk",
                "returned": "Returned for changes",
            },
        ),
    ],
)
def test_review_pages_in_chromium_when_zh_or_en_then_fit_1366_and_chinese_screenshots(
    live: tuple[str, World], chromium: str, lang: str, html_lang: str, words: dict[str, str]
):
    from playwright.sync_api import expect, sync_playwright

    url, world = live
    jobs = _review_pages(world)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport=LAPTOP)  # type: ignore[arg-type]
        page.set_default_timeout(30_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{url}/console/login?lang={lang}")
        page.fill("#token", world.steward)
        page.click("#sign-in")
        expect(page).to_have_url(re.compile(r".*/console/queue$"))
        expect(page.locator("html")).to_have_attribute("lang", html_lang)
        expect(page.locator("h1")).to_contain_text(words["queue"])
        flagged = page.locator(f'tr.job-row[data-job="{jobs["differencing"]}"] .differencing')
        expect(flagged).to_be_visible()
        _fits(page, page.url)
        if lang == "zh_CN":
            shots.append(ARTIFACTS / "review-zh-queue.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
        banners = {
            "aggregate": "#dp-meaning",
            "extract": "#risk",
            "differencing": "#differencing",
            "returned": "#returned",
        }
        for name, job_id in jobs.items():
            page.goto(f"{url}/console/jobs/{job_id}")
            expect(page.locator(banners[name])).to_contain_text(words[name])
            _fits(page, page.url)
            if lang == "zh_CN":
                shots.append(ARTIFACTS / f"review-zh-{name}.png")
                page.screenshot(path=str(shots[-1]), full_page=True)
        expect(page.locator("#return")).to_have_count(0)  # returned: nothing more to decide
        page.goto(f"{url}/console/jobs/{jobs['aggregate']}")
        expect(page.locator("#return")).to_have_text(
            "退回修改" if lang == "zh_CN" else "Return for changes"
        )
        browser.close()
    assert problems == []
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in shots)
    assert len(shots) == (5 if lang == "zh_CN" else 0)
