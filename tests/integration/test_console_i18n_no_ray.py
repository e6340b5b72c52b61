"""The review console speaks Chinese first: every page it serves, with no English sentence left.

Pages are rendered as a steward and as an auditor (a service without Ray, on SQLite and
PostgreSQL) in ``zh_CN``, the default, and checked for English sentences in what a reader
sees (text and placeholders). What people typed or stored (a dataset's description, a
grant's purpose, an audit entry's details) is data, not the console's words: it is taken
out first, read from the store. Identifiers are not sentences either: dataset, column and
kind names, actors and actions (marked ``class="ident"``) and commands (``<code>``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sandbox.service import Sandbox
from sandbox.store.models import AuditEntry, Dataset, Grant, Job, Organisation, User
from tests.factories import World, quarantined_job
from tests.integration.test_console import _client, _sign_in
from tests.integration.test_console_admin_no_ray import _admin

#: Two or more English words in a row: a phrase or a sentence someone forgot to translate.
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,;:'’/-]+[A-Za-z]{2,})+")
#: English that stays English in Chinese too, and why.
ALLOWED = (
    "Data Sandbox",  # the product's name
)
#: Elements whose text is an identifier or a command, not a sentence.
SKIPPED_TAGS = {"code", "script", "style"}


@pytest.fixture
def service(
    ray_free_service: tuple[TestClient, Sandbox],
) -> Iterator[tuple[TestClient, Sandbox]]:
    yield ray_free_service


class _Visible(HTMLParser):
    """The text a reader sees, one text node a line, identifiers and commands left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._skipping: list[str] = []
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang") or ""
        if found.get("placeholder"):
            self.lines.append(found["placeholder"] or "")
        if tag in ("input", "br", "meta", "link", "col"):  # void elements
            return
        if self._skipping or tag in SKIPPED_TAGS or "ident" in (found.get("class") or "").split():
            self._skipping.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.lines.append(data.strip())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _data_texts(sandbox: Sandbox) -> list[str]:
    """What people typed or the store holds, longest first (taken out before the check)."""
    with sandbox.db.session() as session:
        texts = [
            *session.scalars(select(Dataset.description)),
            *session.scalars(select(Dataset.source)),
            *session.scalars(select(Grant.purpose)),
            *session.scalars(select(Job.purpose)),
            *(r for r in session.scalars(select(Grant.state_reason)) if r),
            *session.scalars(select(Organisation.name)),
            *session.scalars(select(User.name)),
        ]
        for details in session.scalars(select(AuditEntry.details)):
            texts.extend(_strings(details))
    return sorted({t for t in texts if t}, key=len, reverse=True)


def english_left(html: str, data: list[str]) -> tuple[str, list[str]]:
    """The page's ``lang`` and the English phrases a reader of it sees."""
    page = _Visible()
    page.feed(html)
    left = []
    for line in page.lines:
        for text in data:
            line = line.replace(text, " ")
        for allowed in ALLOWED:
            line = line.replace(allowed, " ")
        left.extend(ENGLISH.findall(line))
    return page.lang, left


#: Pages to read: (who signs in, path); ``{job}``: a job awaiting review.
PAGES = [
    ("steward", "/console/queue"),
    ("steward", "/console/queue?status="),
    ("auditor", "/console/queue"),
    ("steward", "/console/jobs/{job}"),
    ("auditor", "/console/jobs/{job}"),
    ("steward", "/console/datasets/new"),
    ("admin", "/console/admin/users"),
    ("admin", "/console/admin/orgs"),
    ("admin", "/console/admin/tokens"),
    ("steward", "/console/grants"),
    ("steward", "/console/catalog"),
    ("steward", "/console/audit"),
    ("auditor", "/console/grants"),
    ("auditor", "/console/catalog"),
    ("auditor", "/console/audit"),
    ("steward", "/console/no-such-page"),  # the error page
]


@pytest.mark.parametrize(("who", "path"), PAGES)
def test_console_page_when_read_in_chinese_then_no_english_sentence_and_lang_zh(
    world: World, who: str, path: str
):
    if who == "admin":
        browser, _ = _admin(world, "zh_CN")
    else:
        browser = _client(world, lang="zh_CN")
        _sign_in(browser, getattr(world, who))
    if "{job}" in path:
        path = path.format(job=quarantined_job(world, epsilon=1.0))
    response = browser.get(path)
    assert response.status_code in (200, 404)
    lang, left = english_left(response.text, _data_texts(world.sandbox))
    assert lang == "zh-CN"
    assert left == [], f"English left on {path}: {left}"
    english = browser.get(path, params={"lang": "en"})
    assert english.status_code == response.status_code
    lang, left = english_left(english.text, _data_texts(world.sandbox))
    assert lang == "en" and left  # the same check finds the English page's phrases


def test_console_when_signed_out_then_login_page_in_chinese_with_a_switch_to_english(
    world: World,
):
    browser = TestClient(world.http.app, follow_redirects=False)  # no language chosen yet
    page = browser.get("/console/login")
    lang, left = english_left(page.text, [])
    assert (lang, left) == ("zh-CN", [])
    assert "登录" in page.text and 'href="/console/login?lang=en"' in page.text
    switched = browser.get("/console/login?lang=en")
    assert english_left(switched.text, [])[0] == "en" and "Sign in" in switched.text
    assert "console_lang=en" in switched.headers["set-cookie"]
    # the choice is remembered: the next page is English without asking again
    assert english_left(browser.get("/console/login").text, [])[0] == "en"


def test_grant_form_when_refused_in_chinese_then_reason_on_top_and_typed_values_kept(
    world: World,
):
    browser = _client(world, lang="zh_CN")
    csrf = _sign_in(browser, world.steward)
    refused = browser.post(
        "/console/grants",
        data={
            "csrf": csrf,
            "org_id": str(world.firm_id),
            "datasets": ["residents"],
            "kinds": ["aggregate"],
            "purpose": "人口统计年鉴",
            "epsilon": "",  # missing
            "limit_wall_s": "99999",
            "expires": "2030-01-01",
        },
    )
    assert refused.status_code == 422
    main = refused.text[refused.text.index("<main>") :]
    assert main.index('id="grant-error"') < main.index("<h1>")  # at the top of the page
    assert "授权未创建" in main and "请检查以下字段：隐私预算 ε" in main
    assert "人口统计年鉴</textarea>" in main  # what was typed is kept
    assert 'name="limit_wall_s" type="number" min="1" max="3600" step="1"' in main
    assert 'value="99999"' in main and 'value="residents" checked' in main
    lang, left = english_left(refused.text, _data_texts(world.sandbox))
    assert (lang, left) == ("zh-CN", [])


def test_period_form_when_refused_then_the_grants_page_with_the_reason_and_the_reason_typed(
    world: World,
):
    browser = _client(world, lang="zh_CN")
    csrf = _sign_in(browser, world.steward)
    refused = browser.post(
        "/console/budgets/periods",
        data={"csrf": csrf, "org_id": str(world.firm_id), "dataset": "nowhere", "reason": "新年度"},
    )
    assert 400 <= refused.status_code < 500
    assert 'id="period-error"' in refused.text and "未开始新的预算周期" in refused.text
    assert 'name="reason" required minlength="2" value="新年度"' in refused.text


def test_audit_page_when_details_hold_chinese_then_shown_as_text_in_fields(world: World):
    world.http.post(
        f"/v1/grants/{world.grant_id}/suspend",
        headers=world.as_("steward"),
        json={"reason": "超出授权范围的使用"},
    )
    browser = _client(world, lang="zh_CN")
    _sign_in(browser, world.auditor)
    page = browser.get("/console/audit").text
    assert "超出授权范围的使用" in page and "\\u8d85" not in page
    assert re.search(r'<dt data-key="reason">理由</dt><dd>超出授权范围的使用</dd>', page)


def test_catalog_when_steward_declared_group_size_bands_then_shown_grouped_in_chinese(
    world: World,
):
    with world.sandbox.db.session() as session:
        dataset = session.scalars(select(Dataset)).first()
        assert dataset is not None
        dataset.group_size_bands = {"city": {"low": 200, "high": 2000}}
    browser = _client(world, lang="zh_CN")
    _sign_in(browser, world.steward)
    page = browser.get("/console/catalog").text
    assert "预期分组规模" in page and "按 city 分组：每组 200–2,000 行" in page
    english = browser.get("/console/catalog", params={"lang": "en"}).text
    assert "by city: 200–2,000 rows per group" in english


def test_catalog_when_steward_stored_a_hierarchy_then_listed_by_name_and_height_in_chinese(
    world: World,
):
    stored = world.http.put(
        "/v1/datasets/residents/hierarchies/city",
        headers=world.as_("steward"),
        json={"csv": "南京市;苏南;*\n苏州市;苏南;*\n无锡市;苏南;*\n", "name": "region"},
    )
    assert stored.status_code == 200, stored.text
    browser = _client(world, lang="zh_CN")
    _sign_in(browser, world.steward)
    page = browser.get("/console/catalog").text
    assert "泛化层级" in page and "city：“region”，2 级" in page
    assert "苏南" not in page  # the lines stay in the download
    english = browser.get("/console/catalog", params={"lang": "en"}).text
    assert "city: “region”, 2 levels" in english
