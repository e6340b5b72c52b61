"""Screenshots of the review console for the demo's evidence folder.

Drives Debian's Chromium headless through Playwright (no browser download):
signs in with a steward's or auditor's token, then captures the queue, the
page of the newest output in it (or of the newest job in any state when
nothing awaits review), the grants, the catalog and the audit log, in Chinese
(the console's first language) unless asked otherwise, at 1366×768 (a common
office screen; the pages fit its width); :func:`capture_admin` captures the admins'
pages and the ingest pages in Chinese. Without Playwright or Chromium it logs
what to install and returns no files, so the rest of the demo goes on.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
_VIEWPORT = {"width": 1366, "height": 768}
#: Pages captured after the queue and the output page: (file stem, path).
PAGES = (
    ("grants", "/console/grants"),
    ("catalog", "/console/catalog"),
    ("audit", "/console/audit"),
)


def capture(
    base_url: str,
    token: str,
    out_dir: Path,
    *,
    executable_path: str = CHROMIUM,
    timeout_s: float = 30.0,
    lang: str = "zh_CN",
) -> list[Path]:
    """Sign in to the console at ``base_url`` and screenshot its pages.

    Args:
        base_url: Where the service answers, e.g. ``http://127.0.0.1:8000``.
        token: A steward's or auditor's API token.
        out_dir: Folder for ``console-queue.png``, ``console-output.png``,
            ``console-grants.png``, ``console-catalog.png`` and ``console-audit.png``
            (made if missing).
        executable_path: The Chromium binary.
        timeout_s: Longest wait for one page.
        lang: The console's language (``zh_CN`` or ``en``).

    Returns:
        The screenshots written, in that order (the output page only when there is a job);
        empty when Playwright or Chromium is missing, with the reason logged.
    """
    if not Path(executable_path).is_file():
        log.warning(
            "no console screenshots: Chromium is missing at %s (Debian: apt-get install chromium)",
            executable_path,
        )
        return []
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        log.warning("no console screenshots: install the 'playwright' Python package")
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    base = base_url.rstrip("/")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable_path, headless=True)
            try:
                page = browser.new_page(
                    viewport=_VIEWPORT,  # type: ignore[arg-type]
                    locale=lang.replace("_", "-"),
                )
                page.set_default_timeout(timeout_s * 1000)
                page.goto(f"{base}/console/login?lang={lang}")  # remembered in a cookie
                page.fill("#token", token)
                page.click("#sign-in")
                page.wait_for_url(re.compile(r".*/console/queue.*"))
                queue = out_dir / "console-queue.png"
                page.screenshot(path=str(queue), full_page=True)
                written.append(queue)
                first = page.locator("tr.job-row a").first
                if not first.count():  # nothing awaits review: the newest job in any state
                    page.goto(f"{base}/console/queue?status=")
                    first = page.locator("tr.job-row a").first
                if first.count():
                    first.click()
                    page.wait_for_url(re.compile(r".*/console/jobs/\d+.*"))
                    output = out_dir / "console-output.png"
                    page.screenshot(path=str(output), full_page=True)
                    written.append(output)
                for stem, path in PAGES:
                    page.goto(f"{base}{path}")
                    shot = out_dir / f"console-{stem}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    written.append(shot)
            finally:
                browser.close()
    except PlaywrightError as err:
        log.warning("console screenshots stopped: %s", str(err).splitlines()[0])
    return written


#: The admin and ingest pages at the smallest screen they must fit (no horizontal scroll).
_SMALL = {"width": 1366, "height": 768}
#: Made-up people for the ingest page's screenshot (no one's data), as Excel saves a CSV
#: on Chinese Windows: GBK, CRLF.
_SAMPLE_CSV = (
    "姓名,手机号,城市,年龄,月收入\r\n"
    + "".join(
        f"张{'伟芳娜敏静'[i % 5]}{'一二三四五六七八'[i // 5 % 8]},139{i:08d},"
        f"{['南京市', '苏州市', '无锡市'][i % 3]},{20 + i % 40},{3000 + 10 * i}\r\n"
        for i in range(40)
    )
).encode("gbk")


def capture_admin(
    base_url: str,
    admin_token: str,
    steward_token: str,
    out_dir: Path,
    *,
    executable_path: str = CHROMIUM,
    timeout_s: float = 30.0,
) -> list[Path]:
    """Screenshot the admins' pages and a steward's ingest pages, in Chinese, at 1366×768.

    The ingest confirm page shows a made-up GBK CSV's proposals; the upload is then
    discarded, so nothing is ingested.

    Args:
        base_url: Where the service answers.
        admin_token: An admin's API token.
        steward_token: A steward's API token.
        out_dir: Folder for ``console-admin-*.png`` and ``console-ingest*.png``.
        executable_path: The Chromium binary.
        timeout_s: Longest wait for one page.

    Returns:
        The screenshots written; empty when Playwright or Chromium is missing (logged).
    """
    if not Path(executable_path).is_file():
        log.warning("no admin screenshots: Chromium is missing at %s", executable_path)
        return []
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        log.warning("no admin screenshots: install the 'playwright' Python package")
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    base = base_url.rstrip("/")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable_path, headless=True)
            try:
                for token, pages in (
                    (admin_token, ("admin/users", "admin/orgs", "admin/tokens")),
                    (steward_token, ("datasets/new",)),
                ):
                    page = browser.new_page(viewport=_SMALL)  # type: ignore[arg-type]
                    page.set_default_timeout(timeout_s * 1000)
                    page.goto(f"{base}/console/login?lang=zh_CN")
                    page.fill("#token", token)
                    page.click("#sign-in")
                    page.wait_for_load_state()
                    for path in pages:
                        page.goto(f"{base}/console/{path}")
                        shot = out_dir / f"console-{path.replace('/', '-')}.png"
                        page.screenshot(path=str(shot), full_page=True)
                        written.append(shot)
                    if token == steward_token:
                        page.set_input_files(
                            "#file",
                            {"name": "居民.csv", "mimeType": "text/csv", "buffer": _SAMPLE_CSV},
                        )
                        page.click("#propose")
                        page.wait_for_url(re.compile(r".*/console/datasets/staged/\w+$"))
                        shot = out_dir / "console-datasets-confirm.png"
                        page.screenshot(path=str(shot), full_page=True)
                        written.append(shot)
                        page.click("#discard")  # nothing is ingested
                        page.wait_for_url(re.compile(r".*/console/datasets/new$"))
                    page.close()
            finally:
                browser.close()
    except PlaywrightError as err:
        log.warning("admin screenshots stopped: %s", str(err).splitlines()[0])
    return written
