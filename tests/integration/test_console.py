"""The review console over HTTP: sessions, CSRF, roles, pages, and the airlock rules behind them."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select

from sandbox.service import Sandbox
from sandbox.store.models import AuditEntry, Job, Review
from tests.factories import World, auth, build_world, wait_status

pytestmark = pytest.mark.ray

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found[1]


def _client(world: World, base_url: str = "http://testserver", lang: str = "en") -> TestClient:
    """A browser of its own (own cookie jar) on the world's app, reading ``lang`` (the
    console's default is Chinese; these tests read its English, ``test_console_i18n`` the
    Chinese)."""
    return TestClient(
        world.http.app, base_url=base_url, follow_redirects=False, cookies={"console_lang": lang}
    )


def _sign_in(browser: TestClient, token: str) -> str:
    """Sign in; return the session's CSRF token."""
    form = browser.get("/console/login")
    assert form.status_code == 200
    response = browser.post("/console/login", data={"token": token, "csrf": _csrf(form.text)})
    assert response.status_code == 303, response.text
    queue = browser.get("/console/queue")
    assert queue.status_code == 200
    return _csrf(queue.text)


def _awaiting(world: World, **spec: Any) -> int:
    response = world.submit(**spec)
    assert response.status_code == 202, response.text
    job_id = int(response.json()["id"])
    wait_status(world, job_id, {"awaiting_review"})
    return job_id


def _status(world: World, job_id: int) -> str:
    return str(world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("steward")).json()["status"])


def _add_steward(world: World, name: str) -> str:
    orgs = world.http.get("/v1/orgs", headers=world.as_("admin")).json()
    bureau = next(o for o in orgs if o["kind"] == "bureau")
    response = world.http.post(
        "/v1/users",
        headers=world.as_("admin"),
        json={"name": name, "role": "steward", "org_id": bureau["id"]},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _fail_a_check(world: World, job_id: int) -> None:
    """Make the job's small-cell check fail, as if a cell had slipped below the threshold.

    The engine suppresses small cells itself, so a real output rarely fails a
    check; the airlock only reads the recorded verdicts.
    """
    with world.sandbox.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        checks = [c for c in job.report["checks"] if c["name"] != "small_cells"]
        checks.append({"name": "small_cells", "verdict": "fail", "reason": "2 cells below 10"})
        job.report = {**job.report, "checks": checks}


# --- sessions, CSRF, roles ----------------------------------------------------------------


def test_console_when_form_lacks_csrf_then_403_and_nothing_changes(world: World):
    job_id = _awaiting(world)
    browser = _client(world)
    csrf = _sign_in(browser, world.steward)
    for data in (
        {"decision": "approve", "reason": "looks fine"},  # no token
        {"decision": "approve", "reason": "looks fine", "csrf": csrf[::-1]},  # wrong token
    ):
        response = browser.post(f"/console/jobs/{job_id}/review", data=data)
        assert response.status_code == 403
        assert "CSRF" in response.text
    assert _status(world, job_id) == "awaiting_review"
    suspend = browser.post(f"/console/grants/{world.grant_id}/suspend", data={"reason": "scope"})
    assert suspend.status_code == 403
    assert world.grant()["state"] == "active"
    # another session's token does not work either
    other = _client(world)
    other_csrf = _sign_in(other, world.steward)
    assert other_csrf != csrf
    response = browser.post(
        f"/console/jobs/{job_id}/review",
        data={"decision": "approve", "reason": "looks fine", "csrf": other_csrf},
    )
    assert response.status_code == 403


def test_console_when_auditor_signs_in_then_reads_everything_and_changes_nothing(world: World):
    job_id = _awaiting(world)
    browser = _client(world)
    csrf = _sign_in(browser, world.auditor)
    page = browser.get(f"/console/jobs/{job_id}?lang=en")
    assert page.status_code == 200
    assert 'id="approve"' not in page.text and "Read-only" in page.text
    assert "New grant" not in browser.get("/console/grants").text
    for path in ("/console/catalog", "/console/audit"):
        assert browser.get(path).status_code == 200
    response = browser.post(
        f"/console/jobs/{job_id}/review",
        data={"decision": "approve", "reason": "looks fine", "csrf": csrf},
    )
    assert response.status_code == 403
    suspend = browser.post(
        f"/console/grants/{world.grant_id}/suspend", data={"reason": "out of scope", "csrf": csrf}
    )
    assert suspend.status_code == 403
    assert _status(world, job_id) == "awaiting_review"
    assert world.grant()["state"] == "active"


# --- queue and output page ----------------------------------------------------------------


def _second_org_grant(world: World) -> int:
    response = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={
            "org_id": world.other_firm_id,
            "datasets": ["residents"],
            "purpose": "statistics for another report",
            "kinds": ["aggregate"],
            "epsilon": 3.0,
            "commitment_required": True,
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _listed(html: str) -> set[int]:
    return {int(j) for j in re.findall(r'class="job-row" data-job="(\d+)"', html)}


def test_queue_when_filtered_then_only_matching_outputs_are_listed(world: World):
    mine = _awaiting(world)
    other_grant = _second_org_grant(world)
    theirs = _awaiting(world, who="other_operator", grant_id=other_grant)
    browser = _client(world)
    _sign_in(browser, world.steward)
    assert _listed(browser.get("/console/queue").text) == {mine, theirs}
    assert _listed(browser.get(f"/console/queue?org={world.other_firm_id}").text) == {theirs}
    assert _listed(browser.get(f"/console/queue?org={world.firm_id}").text) == {mine}
    assert _listed(browser.get("/console/queue?dataset=residents").text) == {mine, theirs}
    assert _listed(browser.get("/console/queue?kind=custom").text) == set()
    assert _listed(browser.get("/console/queue?kind=aggregate").text) == {mine, theirs}
    assert _listed(browser.get("/console/queue?status=released").text) == set()


def test_output_page_when_aggregate_then_checks_budget_preview_and_error_bars_without_raw_values(
    world: World,
):
    job_id = _awaiting(world)
    browser = _client(world)
    _sign_in(browser, world.steward)
    page = browser.get(f"/console/jobs/{job_id}?lang=en")
    assert page.status_code == 200
    html = page.text
    job = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("steward")).json()
    for check in job["report"]["checks"]:  # every check with its verdict and reason
        assert f'data-check="{check["name"]}"' in html
        assert str(escape(check["reason"])) in html
    assert "general" in html and "grouped by" in html and "mean of income" in html
    assert re.search(r"left on the grant</td><td>2</td>", html)  # 3 granted, 1 spent
    assert "<svg" in html and "count_ci" not in html.split('id="error-bars"')[1][:200]
    assert html.count("<circle") >= 3  # a dot per city and aggregate
    assert "南京市" in html  # the released table's group keys (public domain)
    identifiers = set(world.frame["resident_id"]) | set(world.frame["phone"])
    assert not [v for v in identifiers if v in html]
    assert "not differentially private" not in html


def test_output_page_when_custom_zip_then_banner_escaped_text_tables_and_png_only(
    world: World,
):
    """A custom job's archive: the page escapes its HTML, previews tables, serves real PNGs."""
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
        b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
        b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.html", "<script>alert(1)</script><b>bold</b>")
        archive.writestr("by_city.csv", "city,count\n南京市,120\n苏州市,130\n")
        archive.writestr("plot.png", png)
        archive.writestr("fake.png", b"<svg onload=alert(1)>")
    path = world.sandbox.settings.quarantine_dir / "job-custom.zip"
    path.write_bytes(buffer.getvalue())
    with world.sandbox.db.session() as session:
        job = Job(
            grant_id=world.grant_id,
            org_id=world.firm_id,
            submitted_by=1,
            kind="custom",
            spec={
                "kind": "custom",
                "datasets": ["residents"],
                "source": "print('<b>hello</b>')\n",
                "entrypoint": "main.py",
            },
            purpose="a custom analysis",
            status="awaiting_review",
            epsilon=0,
            delta=0,
            output_path=str(path),
            output_sha256="0" * 64,
            report={
                "checks": [{"name": "file_types", "verdict": "pass", "reason": "4 files"}],
                # custom run report's shape: stream tails, exit status, refused files
                "stdout": {"tail": "done <i>ok</i>", "bytes": 14},
                "stderr": {"tail": "", "bytes": 0},
                "exit_code": 0,
                "rejected": [{"name": "model.pkl", "reason": "pickle files are refused"}],
            },
        )
        session.add(job)
        session.flush()
        job_id = job.id
    browser = _client(world)
    _sign_in(browser, world.steward)
    html = browser.get(f"/console/jobs/{job_id}?lang=en").text
    assert "not differentially private; review every file" in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "done &lt;i&gt;ok&lt;/i&gt;" in html  # the code's stdout tail, escaped
    assert "model.pkl: pickle files are refused" in html
    assert "print(&#39;&lt;b&gt;hello&lt;/b&gt;&#39;)" in html  # the code, for the reviewer
    assert "by_city.csv" in html and "苏州市" in html
    images = re.findall(r'src="(/console/jobs/\d+/files/\d+\.png)"', html)
    assert len(images) == 2
    served = [browser.get(src) for src in images]
    good = [r for r in served if r.status_code == 200]
    assert len(good) == 1 and good[0].content == png
    assert good[0].headers["content-type"] == "image/png"
    assert good[0].headers["x-content-type-options"] == "nosniff"
    assert [r.status_code for r in served if r.status_code != 200] == [404]  # not a PNG
    queue = browser.get("/console/queue?kind=custom").text
    assert _listed(queue) == {job_id} and "not DP" in queue
    # each look at a quarantined output is audited, by whom
    previews = [
        e
        for e in world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
        if e["action"] == "output.preview" and e["subject"] == f"job:{job_id}"
    ]
    assert all(e["actor"].startswith("user:") for e in previews)
    assert sorted(e["details"].get("file", -1) for e in previews) == sorted(
        [-1] + [int(src.rsplit("/", 1)[1].split(".")[0]) for src in images]
    )  # the page, then each image fetched
    # an auditor may no more read an output (or what the code printed) than download it
    auditor = _client(world)
    _sign_in(auditor, world.auditor)
    seen = auditor.get(f"/console/jobs/{job_id}").text
    assert "苏州市" not in seen and "done &lt;i&gt;ok" not in seen
    assert "shown to the reviewing stewards only" in seen
    assert all(auditor.get(src).status_code == 404 for src in images)
    assert "model.pkl" not in seen  # file names are the code's choice: counts only
    report = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("auditor")).json()["report"]
    assert "stdout" not in report and report["exit_code"] == 0 and report["rejected"] == 1
    assert report["checks"] == [
        {"name": "file_types", "verdict": "pass", "reason": "shown to the reviewing stewards only"}
    ]
    steward_report = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("steward")).json()
    assert steward_report["report"]["stdout"]["tail"] == "done <i>ok</i>"
    # once rejected, the output is no longer shown to anyone (the API refuses it too)
    rejected = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "reject", "reason": "prints too much"},
    )
    assert rejected.status_code == 200, rejected.text
    after = browser.get(f"/console/jobs/{job_id}").text
    assert "苏州市" not in after and "done &lt;i&gt;ok" not in after
    assert all(browser.get(src).status_code == 404 for src in images)


def test_output_page_when_train_model_then_parameters_and_weights_header_are_readable(
    world: World,
):
    """A trained model is inspectable: JSON parameters, or a safetensors header (no pickle)."""
    import numpy as np
    from safetensors.numpy import save_file

    folder = world.sandbox.settings.quarantine_dir
    folder.mkdir(parents=True, exist_ok=True)
    model = {"model": "logistic_regression", "parameters": {"coef": [[0.25, -1.5]]}}
    (folder / "job-model.json").write_text(json.dumps(model), encoding="utf-8")
    weights = {"layer0.weight": np.zeros((64, 3), dtype=np.float32)}
    save_file(weights, str(folder / "job-mlp.safetensors"), metadata={"activation": "<relu>"})
    ids = []
    with world.sandbox.db.session() as session:
        for name in ("job-model.json", "job-mlp.safetensors"):
            job = Job(
                grant_id=world.grant_id,
                org_id=world.firm_id,
                submitted_by=1,
                kind="train",
                spec={"kind": "train", "dataset": "residents", "epsilon": 1.0},
                purpose="a model",
                status="awaiting_review",
                epsilon=0,
                delta=0,
                output_path=str(folder / name),
                output_sha256="0" * 64,
                report={"checks": []},
            )
            session.add(job)
            session.flush()
            ids.append(job.id)
    browser = _client(world)
    _sign_in(browser, world.steward)
    linear = browser.get(f"/console/jobs/{ids[0]}").text
    assert "logistic_regression" in linear and "-1.5" in linear
    mlp = browser.get(f"/console/jobs/{ids[1]}").text
    assert "layer0.weight" in mlp and "64" in mlp
    assert "&lt;relu&gt;" in mlp and "<relu>" not in mlp  # escaped


def test_output_page_when_real_extract_then_risk_report_in_chinese_and_english(world: World):
    grant = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={
            "org_id": world.firm_id,
            "datasets": ["residents"],
            "purpose": "anonymized extracts for a survey",
            "kinds": ["extract"],
            "epsilon": 1.0,
            "commitment_required": True,
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        },
    ).json()["id"]
    spec = {"kind": "extract", "dataset": "residents", "columns": ["city", "age", "income"]}
    submitted = world.http.post(
        "/v1/jobs",
        headers=world.as_("operator"),
        json={"grant_id": grant, "spec": {**spec, "k": 5, "l": 2}, "purpose": "survey"},
    )
    assert submitted.status_code == 202, submitted.text
    job_id = int(submitted.json()["id"])
    wait_status(world, job_id, {"awaiting_review"}, timeout=120)
    report = world.http.get(f"/v1/jobs/{job_id}", headers=world.as_("steward")).json()["report"]
    sizes = report["smallest_classes"]
    assert sizes and sizes[0] == report["k_achieved"] >= 5 and sizes == sorted(sizes)
    browser = _client(world)
    _sign_in(browser, world.steward)
    for lang, words in (
        ("zh_CN", ("风险报告", "实际达到的 k", "最小等价类", "泛化层级")),
        ("en", ("Risk report", "k achieved", "smallest classes", "generalization level")),
    ):
        html = browser.get(f"/console/jobs/{job_id}?lang={lang}").text
        risk = unescape(html.split('id="risk"')[1].split("</section>")[0])
        assert all(w in risk for w in words), lang
        shown = re.search(r'id="smallest-classes">([\d, ]+)', risk)
        assert shown and shown[1].strip() == ", ".join(f"{n:,}" for n in sizes)
        assert re.search(rf'id="k-achieved">{report["k_achieved"]}\b', risk)
        assert str(report["records_suppressed"]) in risk
        assert set(re.findall(r'data-column="(\w+)"', risk)) == {"city", "age"}
        assert 'id="dp-meaning"' not in html  # an extract is not DP: no ε sentence
        assert "南京市" not in risk  # sizes and levels only, never a class's values


# --- overrides and the second reviewer ------------------------------------------------------


def test_review_when_check_fails_then_approval_needs_override_reason_and_is_audited(
    world: World,
):
    job_id = _awaiting(world)
    _fail_a_check(world, job_id)
    browser = _client(world)
    csrf = _sign_in(browser, world.steward)
    page = browser.get(f"/console/jobs/{job_id}").text
    assert 'id="override_reason"' in page and "small_cells" in page
    refused = browser.post(
        f"/console/jobs/{job_id}/review",
        data={"decision": "approve", "reason": "aggregates look fine", "csrf": csrf},
    )
    assert refused.status_code == 409 and "override" in refused.text
    assert _status(world, job_id) == "awaiting_review"
    # the API refuses the same way, and takes the override field
    api = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "approve", "reason": "aggregates look fine"},
    )
    assert api.status_code == 409
    done = browser.post(
        f"/console/jobs/{job_id}/review",
        data={
            "decision": "approve",
            "reason": "aggregates look fine",
            "override_reason": "the two cells are public counts from the yearbook",
            "csrf": csrf,
        },
    )
    assert done.status_code == 303
    assert _status(world, job_id) == "released"
    with world.sandbox.db.session() as session:
        review = session.scalars(select(Review).where(Review.job_id == job_id)).one()
        assert review.overrides == ["small_cells"]
        assert "public counts from the yearbook" in review.reason
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "review.approve", AuditEntry.subject == f"job:{job_id}"
            )
        ).one()
        assert entry.details["overrides"] == ["small_cells"]
        assert "yearbook" in entry.details["override_reason"]
    manifest = world.http.get(f"/v1/jobs/{job_id}/manifest", headers=world.as_("operator"))
    assert manifest.json()["manifest"]["overrides"] == ["small_cells"]


def test_review_when_check_fails_then_api_accepts_override_reason(world: World):
    job_id = _awaiting(world)
    _fail_a_check(world, job_id)
    response = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={
            "decision": "approve",
            "reason": "aggregates look fine",
            "override_reason": "counts published in the yearbook already",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "released"


@pytest.fixture
def important(service: tuple[TestClient, Sandbox]) -> World:
    http, sandbox = service
    return build_world(http, sandbox, grade="important")


def test_review_when_important_data_then_two_different_stewards_release_it(important: World):
    world = important
    second = _add_steward(world, "second_steward")
    job_id = _awaiting(world)
    first = _client(world)
    csrf = _sign_in(first, world.steward)
    assert "0 of 2 approvals" in first.get(f"/console/jobs/{job_id}?lang=en").text
    response = first.post(
        f"/console/jobs/{job_id}/review",
        data={"decision": "approve", "reason": "first look: fine", "csrf": csrf},
    )
    assert response.status_code == 303 and "notice=waiting" in response.headers["location"]
    assert _status(world, job_id) == "awaiting_review"
    page = first.get(response.headers["location"]).text
    assert "1 of 2 approvals" in page and "second steward must approve" in page
    # the steward who approved waits for a second one instead of seeing the form again
    assert "waiting for a second steward" in page and 'id="approve"' not in page
    # the same steward cannot count twice, on the console or the API
    again = first.post(
        f"/console/jobs/{job_id}/review",
        data={"decision": "approve", "reason": "still fine", "csrf": csrf},
    )
    assert again.status_code == 409
    api_again = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "approve", "reason": "still fine"},
    )
    assert api_again.status_code == 409
    output = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
    assert output.status_code == 403  # not released after one approval
    assert _status(world, job_id) == "awaiting_review"
    released = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=auth(second),
        json={"decision": "approve", "reason": "second look: fine"},
    )
    assert released.status_code == 200 and released.json()["status"] == "released"
    manifest = world.http.get(f"/v1/jobs/{job_id}/manifest", headers=world.as_("operator")).json()[
        "manifest"
    ]
    # keyed references, not the stewards' names (the manifest reaches operators and venues)
    refs = [a["approver"] for a in manifest["approvals"]]
    assert len(set(refs)) == 2 and all(r.startswith("steward-") for r in refs)
    assert manifest["approver"] == refs[1]
    assert "second_steward" not in json.dumps(manifest, ensure_ascii=False)
    entries = [
        e
        for e in world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
        if e["action"] == "review.approve"
    ]
    details = [e["details"] for e in entries]
    assert [(d["approvals"], d["released"]) for d in details] == [(1, False), (2, True)]
    # the audit log says whose reference is whose
    assert [(e["actor"], e["details"]["approver_ref"]) for e in entries] == [
        ("user:steward", refs[0]),
        ("user:second_steward", refs[1]),
    ]


def test_review_when_important_and_second_steward_rejects_then_rejected(important: World):
    world = important
    second = _add_steward(world, "second_steward")
    job_id = _awaiting(world)
    first = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=world.as_("steward"),
        json={"decision": "approve", "reason": "first look: fine"},
    )
    assert first.status_code == 200 and first.json()["status"] == "awaiting_review"
    rejected = world.http.post(
        f"/v1/jobs/{job_id}/review",
        headers=auth(second),
        json={"decision": "reject", "reason": "the purpose does not cover this"},
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    download = world.http.get(f"/v1/jobs/{job_id}/output", headers=world.as_("operator"))
    assert download.status_code == 403


# --- release history ----------------------------------------------------------------------


def test_history_when_new_table_differs_from_a_release_by_few_people_then_flagged(world: World):
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
    first = _awaiting(world, grant_id=strict, filters=[{"column": "age", "op": "ge", "value": 30}])
    far = _awaiting(world, grant_id=strict, filters=[{"column": "age", "op": "ge", "value": 60}])
    for job_id in (first, far):
        world.http.post(
            f"/v1/jobs/{job_id}/review",
            headers=world.as_("steward"),
            json={"decision": "approve", "reason": "aggregates look fine"},
        )
    # ages 18..77, ten people each: 'age >= 31' leaves out the ten people aged 30
    near = _awaiting(world, grant_id=strict, filters=[{"column": "age", "op": "ge", "value": 31}])
    browser = _client(world)
    _sign_in(browser, world.auditor)
    html = browser.get(f"/console/jobs/{near}?lang=en").text
    history = html.split('id="history"')[1].split("</section>")[0]
    rows = {
        int(m[0]): m[1]
        for m in re.findall(r'<a href="/console/jobs/(\d+)">#\d+</a>(.*?)</tr>', history, re.S)
    }
    assert set(rows) == {first, far}
    assert "10–99" in rows[first] and "differencing risk" in rows[first]  # 10 < 20
    assert "100 or more" in rows[far] and "differencing risk" not in rows[far]  # 290 people
    assert "290" not in history  # only the band leaves, never the count


# --- grants, catalog, audit ---------------------------------------------------------------


def test_grants_page_when_steward_creates_and_changes_a_grant_then_done_with_reasons_audited(
    world: World,
):
    browser = _client(world)
    csrf = _sign_in(browser, world.steward)
    assert 'id="create-grant"' in browser.get("/console/grants").text
    created = browser.post(
        "/console/grants",
        data={
            "csrf": csrf,
            "org_id": str(world.other_firm_id),
            "datasets": ["residents"],
            "kinds": ["aggregate"],
            "purpose": "population statistics for the 2026 yearbook",
            "epsilon": "2.5",
            "delta": "0",
            "min_cell": "25",
            "expires": (dt.date.today() + dt.timedelta(days=90)).isoformat(),
        },
    )
    assert created.status_code == 303, created.text
    grants = world.http.get("/v1/grants", headers=world.as_("steward")).json()
    new = next(g for g in grants if g["org_id"] == world.other_firm_id)
    assert (new["epsilon_total"], new["min_cell"], new["state"]) == (2.5, 25, "active")
    short = browser.post(
        f"/console/grants/{new['id']}/suspend", data={"csrf": csrf, "reason": "否"}
    )
    assert short.status_code == 422  # a reason of 2 characters or more is required (audited)
    for action, state in (
        ("suspend", "suspended"),
        ("reinstate", "active"),
        ("terminate", "terminated"),
    ):
        response = browser.post(
            f"/console/grants/{new['id']}/{action}",
            data={"csrf": csrf, "reason": f"{action}: yearbook scope reviewed"},
        )
        assert response.status_code == 303
        got = world.http.get(f"/v1/grants/{new['id']}", headers=world.as_("steward")).json()
        assert got["state"] == state
    final = browser.post(
        f"/console/grants/{new['id']}/reinstate",
        data={"csrf": csrf, "reason": "try to bring it back"},
    )
    assert final.status_code == 409  # art. 76: termination is final
    actions = [
        (e["action"], e["details"].get("reason"))
        for e in world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
        if e["subject"] == f"grant:{new['id']}"
    ]
    assert [a for a, _ in actions] == [
        "grant.create",
        "grant.suspended",
        "grant.active",
        "grant.terminated",
    ]
    assert actions[1][1] == "suspend: yearbook scope reviewed"
    page = browser.get("/console/grants").text
    assert "terminate: yearbook scope reviewed" in page


def _grant_form(csrf: str, world: World, **fields: str | list[str]) -> dict[str, Any]:
    """The create-grant form as a browser posts it; ``fields`` add or override."""
    return {
        "csrf": csrf,
        "org_id": str(world.other_firm_id),
        "datasets": ["residents"],
        "kinds": ["aggregate"],
        "purpose": "population statistics for the 2026 yearbook",
        "epsilon": "2.0",
        "delta": "0",
        "expires": (dt.date.today() + dt.timedelta(days=90)).isoformat(),
        **fields,
    }


def _grant_ids(world: World) -> set[int]:
    return {int(g["id"]) for g in world.http.get("/v1/grants", headers=world.as_("steward")).json()}


def _limits_of(html: str, grant_id: int) -> dict[str, tuple[str, bool]]:
    """The jail limits a grant's row lists: key -> (text, set by the grant)."""
    row = html[html.index(f'class="grant-row" data-grant="{grant_id}"') :]
    row = row[: row.index("</tr>")]
    found = re.findall(r'<span class="limit( grant-set)?" data-limit="(\w+)">([^<]+)', row)
    return {key: (text.strip(), bool(own)) for own, key, text in found}


def test_grants_page_when_steward_sets_limits_k_and_linkage_then_api_stores_them(
    world: World,
) -> None:
    browser = _client(world)
    csrf = _sign_in(browser, world.steward)
    form = browser.get("/console/grants").text
    for kind in ("aggregate", "extract", "train", "custom"):
        assert f'name="kinds" value="{kind}"' in form
    for name in ("min_cell", "extract_k", "allow_linkage", "limit_wall_s", "limit_tmp_bytes"):
        assert f'name="{name}"' in form
    assert 'placeholder="default 4,096 MiB (max 32,768)"' in form  # memory: default and maximum
    before = _grant_ids(world)
    created = browser.post(
        "/console/grants",
        data=_grant_form(
            csrf,
            world,
            kinds=["extract", "custom"],
            min_cell="15",
            extract_k="12",
            allow_linkage="true",
            limit_wall_s="60",
            limit_memory_bytes="2048",  # MiB
            limit_output_files="10",
            limit_cpu_s="",  # blank: the default
        ),
    )
    assert created.status_code == 303, created.text
    (new_id,) = _grant_ids(world) - before
    got = world.http.get(f"/v1/grants/{new_id}", headers=world.as_("steward")).json()
    assert got["kinds"] == ["custom", "extract"]
    assert (got["min_cell"], got["extract_k"], got["allow_linkage"]) == (15, 12, True)
    assert got["limits"] == {"wall_s": 60, "memory_bytes": 2 * 1024**3, "output_files": 10}
    shown = _limits_of(browser.get("/console/grants").text, new_id)
    assert shown["wall_s"] == ("wall 60 s", True)
    assert shown["memory_bytes"] == ("memory 2 GiB", True)
    assert shown["cpu_s"] == ("CPU 120 s", False)  # left blank: the default, not marked


def test_grants_page_when_defaults_then_grade_default_no_linkage_and_default_limits(
    world: World,
) -> None:
    browser = _client(world)
    csrf = _sign_in(browser, world.steward)
    before = _grant_ids(world)
    assert browser.post("/console/grants", data=_grant_form(csrf, world)).status_code == 303
    (new_id,) = _grant_ids(world) - before
    got = world.http.get(f"/v1/grants/{new_id}", headers=world.as_("steward")).json()
    assert (got["min_cell"], got["extract_k"], got["allow_linkage"]) == (None, None, False)
    assert got["limits"] == {}
    page = browser.get("/console/grants").text
    row = page[page.index(f'data-grant="{new_id}"') :]
    row = row[: row.index("</tr>")]
    assert '<dd class="extract-k">grade default</dd>' in row
    assert '<dd class="linkage">no</dd>' in row
    shown = _limits_of(page, new_id)
    assert len(shown) == 10 and not any(own for _, own in shown.values())
    assert shown["cpu_percent"] == ("CPU quota 50", False)
    assert shown["wall_s"] == ("wall 300 s", False)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        # beyond the wall-clock maximum (3600 s)
        ({"limit_wall_s": "99999"}, "jail limit 'wall' must be between 1 and 3600"),
        # memory in MiB, above 32 GiB
        ({"limit_memory_bytes": "40000"}, "jail limit 'memory' must be between 256"),
        # below the least number of processes
        ({"limit_processes": "3"}, "jail limit 'processes' must be between 8 and 512"),
        # not a number at all
        ({"limit_open_files": "7e3"}, "jail limit 'open files' is a whole number"),
        # beyond the cap every entry point shares (refused by sandbox.access.grants.create)
        ({"extract_k": "12345"}, "extract k is from 2"),
        # not a whole number
        ({"extract_k": "5.5"}, "the extract k is a whole number"),
    ],
)
def test_grants_page_when_a_term_is_out_of_range_then_refused_with_a_message(
    world: World, fields: dict[str, str], message: str
) -> None:
    browser = _client(world)
    csrf = _sign_in(browser, world.steward)
    before = _grant_ids(world)
    refused = browser.post("/console/grants", data=_grant_form(csrf, world, **fields))
    assert refused.status_code == 422
    assert 'id="grant-error"' in refused.text
    error = refused.text[refused.text.index('id="grant-error"') :]
    error = unescape(error[error.index(">") + 1 : error.index("</p>")])
    assert message in error
    (typed,) = fields.values()
    assert typed not in error  # the input is not echoed
    assert "default-src 'self'" in refused.headers["content-security-policy"]
    assert 'id="create-grant"' in refused.text  # the form is there to try again
    assert _grant_ids(world) == before


def test_grants_page_when_grant_created_through_api_then_its_limits_are_listed(
    world: World,
) -> None:
    response = world.http.post(
        "/v1/grants",
        headers=world.as_("steward"),
        json={
            "org_id": world.other_firm_id,
            "datasets": ["residents"],
            "purpose": "a custom model of commuting",
            "kinds": ["custom", "aggregate"],
            "epsilon": 1.0,
            "commitment_required": True,
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
            "extract_k": 20,
            "allow_linkage": True,
            "limits": {"cpu_s": 30, "output_bytes": 64 * 1024**2, "processes": 16},
        },
    )
    assert response.status_code == 201, response.text
    grant_id = int(response.json()["id"])
    browser = _client(world)
    _sign_in(browser, world.auditor)  # read-only viewers see the terms too
    page = browser.get("/console/grants").text
    shown = _limits_of(page, grant_id)
    assert shown["cpu_s"] == ("CPU 30 s", True)
    assert shown["output_bytes"] == ("output size 64 MiB", True)
    assert shown["processes"] == ("processes 16", True)
    assert shown["wall_s"] == ("wall 300 s", False)
    assert shown["memory_bytes"] == ("memory 4 GiB", False)
    row = page[page.index(f'data-grant="{grant_id}"') :]
    row = row[: row.index("</tr>")]
    assert '<dd class="extract-k">20 ' in row and '<dd class="linkage">yes ' in row
    assert "aggregate, custom" in row
    assert "3 set by the grant" in row
