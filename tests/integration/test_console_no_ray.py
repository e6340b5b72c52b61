"""The review console over HTTP where no job runs: sessions, roles, catalog and audit pages.

A service without Ray, on SQLite and PostgreSQL; the console's tests that run
jobs are in ``test_console.py`` (on the session's Ray).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sandbox.access.throttle import SignInThrottle
from sandbox.service import Sandbox
from sandbox.store.models import AuditEntry, Dataset, Job
from tests.factories import World
from tests.integration.test_console import _client, _csrf, _sign_in


@pytest.fixture
def service(
    ray_free_service: tuple[TestClient, Sandbox],
) -> Iterator[tuple[TestClient, Sandbox]]:
    """No Ray: a job submitted here fails, and no test here submits one."""
    yield ray_free_service


# --- sessions, CSRF, roles ----------------------------------------------------------------


def test_console_when_steward_signs_in_then_cookie_is_httponly_strict_and_logout_ends_it(
    world: World,
):
    browser = _client(world)
    assert browser.get("/console/queue").headers["location"] == "/console/login"
    form = browser.get("/console/login")
    response = browser.post(
        "/console/login", data={"token": world.steward, "csrf": _csrf(form.text)}
    )
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("sbx_console=")
    )
    assert world.steward not in cookie  # the browser holds a session id, never the token
    flags = {p.strip().split("=")[0].lower(): p.strip() for p in cookie.split(";")}
    assert "httponly" in flags and flags["samesite"].lower() == "samesite=strict"
    assert flags["path"] == "Path=/console" and "secure" not in flags  # plain http here
    queue = browser.get("/console/queue")
    assert queue.status_code == 200 and "steward" in queue.text
    for header, value in {
        "content-security-policy": "default-src 'self'",
        "x-frame-options": "DENY",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }.items():
        assert value in queue.headers[header]
    assert "frame-ancestors 'none'" in queue.headers["content-security-policy"]
    logout = browser.post("/console/logout", data={"csrf": _csrf(queue.text)})
    assert logout.status_code == 303
    assert browser.get("/console/queue").headers["location"] == "/console/login"
    actions = [
        e["action"]
        for e in world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
    ]
    assert "console.login" in actions and "console.logout" in actions


def test_console_when_served_over_https_then_cookie_is_secure(world: World):
    browser = _client(world, base_url="https://testserver")
    form = browser.get("/console/login")
    response = browser.post(
        "/console/login", data={"token": world.steward, "csrf": _csrf(form.text)}
    )
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("sbx_console=")
    )
    assert "secure" in cookie.lower()


def test_console_when_token_revoked_then_session_ends(world: World):
    browser = _client(world)
    _sign_in(browser, world.steward)
    me = world.http.get("/v1/me", headers=world.as_("steward")).json()
    from sandbox.access.auth import revoke_tokens

    with world.sandbox.db.session() as session:
        revoke_tokens(world.sandbox.db, session, "test", me["id"])
    assert browser.get("/console/queue").headers["location"] == "/console/login"


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no_login_csrf", 403),  # the login form's double-submit token is missing
        ("bad_token", 401),  # not a token
    ],
)
def test_console_login_when_form_or_token_is_wrong_then_no_session(
    world: World, case: str, status: int
):
    browser = _client(world)
    form = browser.get("/console/login")
    data = {"token": world.steward, "csrf": _csrf(form.text)}
    if case == "no_login_csrf":
        data["csrf"] = "forged"
    else:
        data["token"] = "sbx_not-a-token"
    response = browser.post("/console/login", data=data)
    assert response.status_code == status
    assert not any(c.startswith("sbx_console=") for c in response.headers.get_list("set-cookie"))
    assert browser.get("/console/queue").status_code == 303


def test_console_login_when_address_failed_too_often_then_429_but_a_good_token_signs_in(
    world: World,
):
    world.http.app.state.sign_in_throttle = SignInThrottle(world.sandbox.db, 2, 60)
    browser = _client(world)
    for token, status in (("sbx_not-a-token", 401), ("sbx_still-not", 401), ("sbx_again", 429)):
        form = browser.get("/console/login")
        response = browser.post("/console/login", data={"token": token, "csrf": _csrf(form.text)})
        assert response.status_code == status
    assert "Too many failed sign-ins" in response.text
    assert response.headers["Retry-After"].isdigit()
    assert browser.get("/console/queue").status_code == 303
    _sign_in(browser, world.steward)  # one guesser does not lock the stewards out


def test_console_when_operator_signs_in_then_polite_403_and_no_session(world: World):
    browser = _client(world)
    form = browser.get("/console/login")
    response = browser.post(
        "/console/login", data={"token": world.operator, "csrf": _csrf(form.text)}
    )
    assert response.status_code == 403
    assert "stewards and auditors" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert not any(c.startswith("sbx_console=") for c in response.headers.get_list("set-cookie"))


# --- catalog, audit and output pages ------------------------------------------------------


def test_catalog_page_when_dataset_then_classification_tags_and_profile_without_values(
    world: World,
):
    browser = _client(world)
    _sign_in(browser, world.auditor)
    page = browser.get("/console/catalog").text
    section = page.split('id="dataset-residents"')[1]
    assert "general" in section and "unconditional" in section and "test factory" in section
    rows = dict(
        re.findall(r"<tr><td>(\w+)</td><td>[^<]*</td><td><span class=\"tag (\w+)\"", section)
    )
    assert rows["resident_id"] == "direct_identifier" and rows["city"] == "quasi_identifier"
    assert "0.0 %" in section  # no nulls in the factory's table
    assert "2–9" in section  # three cities
    assert "100–999" in section  # 600 residents
    values = set(world.frame["resident_id"]) | set(world.frame["phone"]) | set(world.frame["city"])
    assert not [v for v in values if v in page]


def test_catalog_page_when_rows_lack_a_privacy_unit_then_the_steward_sees_how_many(
    world: World,
):
    with world.sandbox.db.session() as session:
        dataset = session.scalars(select(Dataset).where(Dataset.name == "residents")).one()
        dataset.null_unit_rows = 60  # as ingest records it
    browser = _client(world)
    _sign_in(browser, world.steward)
    section = browser.get("/console/catalog").text.split('id="dataset-residents"')[1]
    shown = re.search(r'<dd class="null-units">([^<]*)</dd>', section)
    assert shown is not None and shown.group(1).startswith("60 (10.0 %)")


def test_catalog_page_when_null_units_not_counted_then_it_says_so_not_a_number(
    world: World,
):
    with world.sandbox.db.session() as session:
        dataset = session.scalars(select(Dataset).where(Dataset.name == "residents")).one()
        dataset.null_unit_rows = None  # ingested before migration 0004 counted them
    browser = _client(world)
    _sign_in(browser, world.auditor)
    section = browser.get("/console/catalog").text.split('id="dataset-residents"')[1]
    shown = re.search(r'<dd class="null-units">([^<]*)</dd>', section)
    assert shown is not None and shown.group(1).startswith("not counted")


def test_audit_page_when_chain_is_edited_then_it_says_where_it_breaks(world: World):
    browser = _client(world)
    _sign_in(browser, world.auditor)
    assert "Hash chain verified" in browser.get("/console/audit").text
    with world.sandbox.db.session() as session:
        entry = session.get(AuditEntry, 3)
        assert entry is not None
        entry.actor = "user:mallory"
    page = browser.get("/console/audit").text
    assert "Hash chain broken at entry 3" in page


def test_audit_page_when_entries_predate_macs_then_it_says_so(world: World):
    browser = _client(world)
    _sign_in(browser, world.auditor)
    assert 'id="chain-note"' not in browser.get("/console/audit").text
    from sandbox.audit import chain as audit
    from tests.integration.audit_chain import rechain

    key = audit.mac_key(world.sandbox.settings.secret())
    with world.sandbox.db.session() as session:  # as a database written before revision 0007
        session.execute(
            update(AuditEntry).where(AuditEntry.seq <= 2).values(mac=None, mac_key=None)
        )
        rechain(session.connection(), 1)  # those hashes never covered a key fingerprint
        for seq, digest in session.execute(
            select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.seq > 2)
        ).all():
            mac = audit.entry_mac(key, seq, digest)
            session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(mac=mac))
    page = browser.get("/console/audit").text
    assert "Hash chain verified" in page
    assert "entries 1..2 carry no MAC under the current key; 2 predate MACs" in page


def test_output_page_when_custom_images_and_code_names_then_reviewer_reads_them_auditor_not(
    world: World,
):
    """The sandbox names the released files; the code's names, as data, are the reviewer's."""
    path = world.sandbox.settings.quarantine_dir / "job-named.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("file-1.csv", "n\n12\n")
    with world.sandbox.db.session() as session:
        job = Job(
            grant_id=world.grant_id,
            org_id=world.firm_id,
            submitted_by=1,
            kind="custom",
            spec={"kind": "custom", "datasets": ["residents"], "source": "print(1)\n"},
            purpose="named outputs",
            status="awaiting_review",
            epsilon=0,
            delta=0,
            output_path=str(path),
            output_sha256="0" * 64,
            report={
                "checks": [],
                "stdout": {"tail": "", "bytes": 0},
                "exit_code": 0,
                "files": [{"name": "file-1.csv", "code_name": "GEZDGNBVGY3TQOJQ.csv"}],
                "rejected": [],
                "images": 1,
                "image_note": "a person must look at every image before approving",
            },
        )
        session.add(job)
        session.flush()
        job_id = job.id
    browser = _client(world)
    _sign_in(browser, world.steward)
    html = unescape(browser.get(f"/console/jobs/{job_id}").text)
    assert "file-1.csv ← GEZDGNBVGY3TQOJQ.csv" in html
    assert 'id="images"' in html and "a person must look at every image" in html
    auditor = _client(world)
    _sign_in(auditor, world.auditor)
    seen = auditor.get(f"/console/jobs/{job_id}").text
    assert "GEZDGNBVGY3TQOJQ" not in seen and 'id="images"' not in seen
