"""The steward's review pages (queue and output) in Chinese and English, where no job runs.

Jobs are stored rows in the state a run would leave them in (its report, its reviews):
the extract's risk report, the sentence saying what a DP job's ε means, the
differencing flag in the queue and the page's banner, the second steward's wait and
the return for changes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from policies.budget import delta_units, epsilon_units
from sandbox.service import Sandbox
from sandbox.store.models import Job, Review
from tests.factories import World, aggregate_spec, build_world
from tests.integration.test_console import _add_steward, _client, _sign_in

ZH, EN = "?lang=zh_CN", "?lang=en"


@pytest.fixture
def service(
    ray_free_service: tuple[TestClient, Sandbox],
) -> Iterator[tuple[TestClient, Sandbox]]:
    """No Ray: the jobs here are stored rows, none runs."""
    yield ray_free_service


@pytest.fixture
def important(service: tuple[TestClient, Sandbox]) -> World:
    http, sandbox = service
    return build_world(http, sandbox, grade="important")


def _job(
    world: World,
    spec: dict[str, Any],
    *,
    status: str = "awaiting_review",
    epsilon: float = 0.0,
    delta: float = 0.0,
    report: dict[str, Any] | None = None,
    grant_id: int | None = None,
) -> int:
    """A finished job's row, as the executor leaves it (no output file: no preview)."""
    now = dt.datetime.now(dt.UTC)
    with world.sandbox.db.session() as session:
        job = Job(
            grant_id=grant_id or world.grant_id,
            org_id=world.firm_id,
            submitted_by=1,
            kind=spec["kind"],
            spec=spec,
            purpose="annual statistics report",
            status=status,
            epsilon=epsilon_units(epsilon),
            delta=delta_units(delta),
            report={"checks": [], **(report or {})},
            created_at=now,
            finished_at=now,
        )
        session.add(job)
        session.flush()
        return int(job.id)


def _review(world: World, job_id: int, who: str, decision: str, reason: str) -> None:
    me = world.http.get("/v1/me", headers=world.as_(who)).json()
    with world.sandbox.db.session() as session:
        session.add(Review(job_id=job_id, reviewer_id=me["id"], decision=decision, reason=reason))


def _text(html: str) -> str:
    """The page's text: tags removed, entities decoded, spaces collapsed."""
    inline = re.sub(r"</?sup>", "", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", inline))).strip()


def _by_id(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|dd|section)>', html, re.S)
    assert found, f"no element #{element_id}"
    return _text(found[1])


EXTRACT_REPORT: dict[str, Any] = {
    "kind": "extract",
    "k_target": 5,
    "k_achieved": 6,
    "l_target": 2,
    "l_achieved": 3,
    "sensitive_column": "income",
    "records_in": 12_345,
    "records_out": 12_000,
    "records_suppressed": 345,
    "suppression_limit_records": 617,
    "smallest_classes": [6, 7, 9, 11, 15],
    "information_loss": {"metric": "normalized certainty penalty", "value": 0.2345},
    "generalization": {
        "age": {"level": 2, "height": 4, "hierarchy": "intervals of 10 years", "source": "auto"},
        "city": {"level": 0, "height": 2, "hierarchy": "city, province, *", "source": "auto"},
    },
}


# --- 1. the extract's risk report ----------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            ZH,
            {
                "k-achieved": "6 （要求：5）",
                "l-achieved": "3 （每个等价类中 income 的不同取值数；要求：2）",
                "records": "输入 12,345 条，发布 12,000 条，抑制 345 条（最多允许 617 条）",
                "information-loss": "23.45 %",
                "smallest-classes": "6, 7, 9, 11, 15 （准标识符取值全部相同的记录数；只显示大小）",
            },
        ),
        (
            EN,
            {
                "k-achieved": "6 (required: 5)",
                "l-achieved": "3 (distinct values of income per class; required: 2)",
                "records": "12,345 in, 12,000 released, 345 suppressed (at most 617 allowed)",
                "information-loss": "23.45 %",
                "smallest-classes": "6, 7, 9, 11, 15 (records sharing all quasi-identifier",
            },
        ),
    ],
)
def test_extract_page_when_risk_report_then_k_l_suppression_levels_loss_and_class_sizes(
    world: World, lang: str, expected: dict[str, str]
):
    spec = {"kind": "extract", "dataset": "residents", "columns": ["age", "city", "income"]}
    job_id = _job(world, spec, report=EXTRACT_REPORT)
    browser = _client(world)
    _sign_in(browser, world.steward)
    html = browser.get(f"/console/jobs/{job_id}{lang}").text
    assert 'id="risk"' in html
    for element_id, text in expected.items():
        assert text in _by_id(html, element_id), element_id
    levels = dict(re.findall(r'data-column="(\w+)"><td>\w+</td><td>([^<]+)</td>', html))
    assert (
        levels == {"age": "2 / 4", "city": "0 / 2"}
        if lang == ZH
        else {
            "age": "2 of 4",
            "city": "0 of 2",
        }
    )
    assert 'id="dp-meaning"' not in html  # not differentially private: no ε sentence
    # an auditor reads the same exact facts; no DP sentence, no decision form
    auditor = _client(world)
    _sign_in(auditor, world.auditor)
    seen = auditor.get(f"/console/jobs/{job_id}{lang}").text
    assert _by_id(seen, "k-achieved") == _by_id(html, "k-achieved")
    assert 'id="approve"' not in seen


def test_extract_page_when_viewer_reads_no_exact_facts_then_no_risk_report(world: World):
    """A steward of another bureau reads neither checks nor the run's risk report (art. 63)."""
    spec = {"kind": "extract", "dataset": "residents", "columns": ["age", "city"]}
    job_id = _job(world, spec, report=EXTRACT_REPORT)
    orgs = world.http.get("/v1/orgs", headers=world.as_("admin")).json()
    other = world.http.post(
        "/v1/orgs", headers=world.as_("admin"), json={"name": "other bureau", "kind": "bureau"}
    ).json()
    assert other["id"] not in {o["id"] for o in orgs}
    token = world.http.post(
        "/v1/users",
        headers=world.as_("admin"),
        json={"name": "far_steward", "role": "steward", "org_id": other["id"]},
    ).json()["token"]
    browser = _client(world)
    _sign_in(browser, token)
    page = browser.get(f"/console/jobs/{job_id}{EN}")
    if page.status_code == 200:  # visible at all: without the run's facts
        assert 'id="risk"' not in page.text and "12,345" not in page.text
    else:
        assert page.status_code in (403, 404)


# --- 2. what ε means, on every DP page -----------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "spec", "epsilon", "delta", "sentence"),
    [
        (
            ZH,
            aggregate_spec(),
            1.0,
            0.0,
            "ε = 1：无论任何一个人的数据是否包含在内，"
            "任一发布结果出现的概率最多相差 e1 ≈ 2.72 倍。",
        ),
        (
            EN,
            aggregate_spec(),
            1.0,
            0.0,
            "ε = 1: whether or not any one person's data is included changes the probability "
            "of any released result by at most a factor of e1 ≈ 2.72.",
        ),
        (
            ZH,
            {"kind": "train", "dataset": "residents"},
            0.5,
            1e-6,
            "ε = 0.5，δ = 1 × 10⁻⁶：无论任何一个人的数据是否包含在内，任一发布结果出现的概率"
            "最多相差 e0.5 ≈ 1.65 倍；超出这一界限的概率至多为 δ。",
        ),
        (
            EN,
            {"kind": "train", "dataset": "residents"},
            0.5,
            1e-6,
            "ε = 0.5, δ = 1 × 10⁻⁶: whether or not any one person's data is included changes "
            "the probability of any released result by at most a factor of e0.5 ≈ 1.65, "
            "except with probability at most δ.",
        ),
    ],
)
def test_dp_page_when_aggregate_or_train_then_one_sentence_says_what_epsilon_means(
    world: World, lang: str, spec: dict[str, Any], epsilon: float, delta: float, sentence: str
):
    job_id = _job(world, spec, epsilon=epsilon, delta=delta)
    browser = _client(world)
    _sign_in(browser, world.steward)
    html = browser.get(f"/console/jobs/{job_id}{lang}").text
    assert f"<sup>{epsilon:g}</sup>" in html  # e to the power ε, as a superscript
    assert _by_id(html, "dp-meaning") == sentence


def test_custom_page_when_operator_code_then_no_epsilon_sentence_but_not_dp_banner(world: World):
    spec = {"kind": "custom", "datasets": ["residents"], "source": "print(1)\n"}
    job_id = _job(world, spec)
    browser = _client(world)
    _sign_in(browser, world.steward)
    html = browser.get(f"/console/jobs/{job_id}{ZH}").text
    assert 'id="dp-meaning"' not in html
    assert "不具备差分隐私保护" in _by_id(html, "not-dp")


# --- 3. the differencing flag: queue row and page banner -----------------------------------


def test_differencing_when_new_table_differs_by_few_people_then_flag_in_queue_and_banner(
    world: World,
):
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

    released = table(30, "released")
    # ages 18..77, ten people each: 'age >= 31' leaves out the ten people aged 30 (< 20)
    near = table(31, "awaiting_review")
    far = table(60, "awaiting_review")  # 290 people apart: no risk
    browser = _client(world)
    _sign_in(browser, world.steward)
    for lang, flag, banner in (
        (
            ZH,
            "差分攻击风险",
            f"差分攻击风险：本输出与此前发布的 #{released} 所涉人群相差的人数少于",
        ),
        (
            EN,
            "differencing risk",
            f"Differencing risk: this output and earlier release(s) #{released} ",
        ),
    ):
        queue = browser.get(f"/console/queue{lang}").text
        rows = dict(re.findall(r'data-job="(\d+)">(.*?)</tr>', queue, re.S))
        assert flag in rows[str(near)] and 'class="job-row flagged"' in queue
        assert flag not in rows[str(far)]
        graded = "residents 一般数据" if lang == ZH else "residents general"
        assert graded in _text(rows[str(far)])
        page = browser.get(f"/console/jobs/{near}{lang}").text
        assert banner in _by_id(page, "differencing")
        # the banner comes first, before the request and the history at the bottom
        assert page.index('id="differencing"') < page.index('class="grid"')
        assert 'id="differencing"' not in browser.get(f"/console/jobs/{far}{lang}").text
    assert "290" not in page  # only bands and flags leave, never a count


# --- 4. important data: the steward who approved waits for a second one --------------------


@pytest.mark.parametrize(
    ("lang", "waiting"),
    [(ZH, "您已批准此输出：等待第二位审核人。"), (EN, "waiting for a second steward")],
)
def test_review_when_steward_already_approved_important_data_then_waits_for_second_steward(
    important: World, lang: str, waiting: str
):
    world = important
    second = _add_steward(world, "second_steward")
    job_id = _job(world, aggregate_spec(), epsilon=1.0)
    _review(world, job_id, "steward", "approve", "first look: fine")
    first = _client(world)
    _sign_in(first, world.steward)
    html = first.get(f"/console/jobs/{job_id}{lang}").text
    assert waiting in _by_id(html, "waiting-second")
    assert 'id="approve"' not in html and 'name="decision"' not in html
    other = _client(world)
    _sign_in(other, second)
    theirs = other.get(f"/console/jobs/{job_id}{lang}").text
    assert 'id="waiting-second"' not in theirs and 'id="approve"' in theirs
    approvals = "1 / 2" if lang == ZH else "1 of 2"
    assert approvals in _text(first.get(f"/console/queue{lang}").text)


# --- 5. return for changes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "button", "state", "banner"),
    [
        (ZH, "退回修改", "已退回修改", "已由 steward 于"),
        (EN, "Return for changes", "returned for changes", "Returned for changes by steward"),
    ],
)
def test_review_form_when_awaiting_then_return_choice_and_returned_job_shows_state_and_comment(
    world: World, lang: str, button: str, state: str, banner: str
):
    awaiting = _job(world, aggregate_spec(), epsilon=1.0)
    browser = _client(world)
    _sign_in(browser, world.steward)
    form = browser.get(f"/console/jobs/{awaiting}{lang}").text
    found = re.search(r'name="decision" value="return" id="return"[^>]*>([^<]+)<', form)
    assert found and found[1] == button
    returned = _job(world, aggregate_spec(), status="returned", epsilon=1.0)
    _review(world, returned, "steward", "return", "please group by district, not by city <b>")
    html = browser.get(f"/console/jobs/{returned}{lang}").text
    assert "<b>" not in html and html.count("not by city &lt;b&gt;") == 2  # banner and list
    colon = "：" if lang == ZH else ": "
    assert f"{colon}please group by district" in _text(html.split('class="reviews"')[1])
    assert state in _text(html.split("</h1>")[0])
    shown = _by_id(html, "returned")
    assert banner in shown and "please group by district, not by city" in shown
    assert 'name="decision"' not in html  # closed: nothing more to decide
    queue = browser.get(f"/console/queue{lang}&status=returned").text
    assert f'data-job="{returned}"' in queue and f'data-job="{awaiting}"' not in queue


def test_review_when_steward_returns_for_changes_then_job_returned_with_comment(world: World):
    """The console's third choice posts ``decision=return`` with the comment as its reason."""
    job_id = _job(world, aggregate_spec(), epsilon=1.0)
    browser = _client(world)
    csrf = _sign_in(browser, world.steward)
    response = browser.post(
        f"/console/jobs/{job_id}/review",
        data={"decision": "return", "reason": "请按区县分组", "csrf": csrf},
    )
    assert response.status_code == 303 and "notice=returned" in response.headers["location"]
    html = browser.get(response.headers["location"] + "&lang=zh_CN").text
    assert "已退回修改" in _by_id(html, "notice")
    assert "请按区县分组" in _by_id(html, "returned")
    job = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("operator")).json()
    assert job["status"] == "returned"
