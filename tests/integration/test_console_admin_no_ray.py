"""The console's admin pages over HTTP: organisations, users, tokens; roles, CSRF, 4xx.

A service without Ray (no job runs here), on SQLite and PostgreSQL; every page in
Chinese (the default) and English.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sandbox.service import Sandbox
from sandbox.store.models import ApiToken, Organisation, User
from tests.factories import World, auth
from tests.integration.test_console import _client, _csrf, _sign_in


@pytest.fixture
def service(
    ray_free_service: tuple[TestClient, Sandbox],
) -> Iterator[tuple[TestClient, Sandbox]]:
    yield ray_free_service


_TOKEN = re.compile(r'<code class="hash" id="new-token">(sbx_[A-Za-z0-9_-]+)</code>')
#: A page's words in each language (its title and a notice).
LANGS = {
    "zh_CN": {"users": "用户", "orgs": "组织", "tokens": "令牌", "created": "组织已创建。"},
    "en": {
        "users": "Users",
        "orgs": "Organisations",
        "tokens": "Tokens",
        "created": "Organisation created.",
    },
}


def _admin(world: World, lang: str = "zh_CN") -> tuple[TestClient, str]:
    """A browser signed in as the admin, in ``lang``; its CSRF token."""
    browser = _client(world, lang=lang)
    form = browser.get(f"/console/login?lang={lang}")
    response = browser.post("/console/login", data={"token": world.admin, "csrf": _csrf(form.text)})
    assert response.status_code == 303 and response.headers["location"] == "/console/admin/users"
    page = browser.get("/console/admin/users")
    assert page.status_code == 200
    return browser, _csrf(page.text)


def _actions(world: World) -> list[dict[str, Any]]:
    return list(world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json())


def _org_id(world: World, name: str) -> int:
    with world.sandbox.db.session() as session:
        return session.scalars(select(Organisation.id).where(Organisation.name == name)).one()


def _user_id(world: World, name: str) -> int:
    with world.sandbox.db.session() as session:
        return session.scalars(select(User.id).where(User.name == name)).one()


# --- who reaches which page ---------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_admin_console_when_admin_signs_in_then_admin_pages_and_no_review_page(
    world: World, lang: str
):
    browser, _ = _admin(world, lang)
    words = LANGS[lang]
    assert browser.get("/console").headers["location"] == "/console/admin/users"
    for path, word in (("users", "users"), ("orgs", "orgs"), ("tokens", "tokens")):
        page = browser.get(f"/console/admin/{path}")
        assert page.status_code == 200 and f"<h1>{words[word]}</h1>" in page.text
        assert f'lang="{lang.replace("_", "-")}"' in page.text
        assert 'href="/console/queue"' not in page.text  # the review nav is not theirs
    for path in (
        "/console/queue",
        "/console/grants",
        "/console/catalog",
        "/console/audit",
        "/console/datasets/new",
    ):
        refused = browser.get(path)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("text/html")
    assert "/console/admin" in browser.get("/console/queue").text
    logout = browser.post("/console/logout", data={"csrf": _csrf(page.text)})
    assert logout.status_code == 303
    assert browser.get("/console/admin/users").headers["location"] == "/console/login"


@pytest.mark.parametrize("who", ["steward", "auditor"])
def test_admin_pages_when_steward_or_auditor_then_403_and_nothing_changes(world: World, who: str):
    browser = _client(world)
    csrf = _sign_in(browser, getattr(world, who))
    for path in ("/console/admin/users", "/console/admin/orgs", "/console/admin/tokens"):
        assert browser.get(path).status_code == 403
    assert 'href="/console/admin/users"' not in browser.get("/console/queue").text
    posted = browser.post("/console/admin/orgs", data={"csrf": csrf, "name": "x", "kind": "bureau"})
    assert posted.status_code == 403
    steward_id = _user_id(world, "steward")
    refused = browser.post(f"/console/admin/users/{steward_id}/deactivate", data={"csrf": csrf})
    assert refused.status_code == 403
    with world.sandbox.db.session() as session:
        assert session.scalar(select(Organisation).where(Organisation.name == "x")) is None
        assert session.get(User, steward_id).active  # type: ignore[union-attr]


def test_admin_forms_when_csrf_missing_or_wrong_then_403_and_nothing_changes(world: World):
    browser, _ = _admin(world)
    operator_id = _user_id(world, "operator")
    with world.sandbox.db.session() as session:
        token_id = session.scalars(
            select(ApiToken.id).where(ApiToken.user_id == operator_id)
        ).first()
    for csrf in ("", "forged"):
        for path, data in (
            ("/console/admin/orgs", {"name": "forged org", "kind": "operator"}),
            ("/console/admin/users", {"name": "forged", "role": "operator", "org_id": "2"}),
            (f"/console/admin/users/{operator_id}/deactivate", {}),
            ("/console/admin/tokens", {"user_id": str(operator_id), "label": "forged"}),
            (f"/console/admin/tokens/{token_id}/revoke", {}),
        ):
            response = browser.post(path, data={"csrf": csrf, **data})
            assert response.status_code == 403, path
            assert "sbx_" not in response.text
    assert world.http.get("/v1/me", headers=world.as_("operator")).status_code == 200
    with world.sandbox.db.session() as session:
        assert session.scalar(select(User).where(User.name == "forged")) is None


# --- organisations ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_admin_orgs_when_created_then_listed_with_notice_and_audited(world: World, lang: str):
    browser, csrf = _admin(world, lang)
    response = browser.post(
        "/console/admin/orgs", data={"csrf": csrf, "name": "江苏数据运营公司", "kind": "operator"}
    )
    assert response.status_code == 303
    page = browser.get(response.headers["location"])
    assert LANGS[lang]["created"] in page.text
    assert "江苏数据运营公司" in page.text
    assert ("运营机构" if lang == "zh_CN" else "operator firm") in page.text
    entry = [e for e in _actions(world) if e["action"] == "org.create"][-1]
    assert entry["actor"] == "user:admin" and entry["details"]["name"] == "江苏数据运营公司"


@pytest.mark.parametrize(
    ("data", "status", "says"),
    [
        ({"name": "firm", "kind": "operator"}, 409, "exists already"),  # name taken
        ({"name": "新机构", "kind": "galaxy"}, 422, "请选择组织类型"),  # unknown kind
        ({"name": "", "kind": "bureau"}, 422, "organisation name"),  # missing name
        ({"name": "pаypal", "kind": "bureau"}, 422, "organisation name"),  # Cyrillic а
    ],
)
def test_admin_orgs_when_form_is_refused_then_4xx_at_the_top_with_values_kept(
    world: World, data: dict[str, str], status: int, says: str
):
    browser, csrf = _admin(world)
    before = len(_actions(world))
    response = browser.post("/console/admin/orgs", data={"csrf": csrf, **data})
    assert response.status_code == status
    page = response.text
    error = page.index('id="form-error"')
    assert says in page[error:] and error < page.index('id="org_name"')
    assert f'value="{data["name"]}"' in page  # the typed name is kept
    assert len(_actions(world)) == before


def test_admin_orgs_when_name_holds_markup_then_it_is_escaped(world: World):
    browser, csrf = _admin(world)
    browser.post(
        "/console/admin/orgs", data={"csrf": csrf, "name": "<b>bold</b> firm", "kind": "operator"}
    )
    page = browser.get("/console/admin/orgs").text
    assert "&lt;b&gt;bold&lt;/b&gt; firm" in page and "<b>bold</b>" not in page


# --- users --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_admin_users_when_created_then_token_shown_once_works_and_audited(world: World, lang: str):
    browser, csrf = _admin(world, lang)
    response = browser.post(
        "/console/admin/users",
        data={"csrf": csrf, "name": "分析员王", "role": "operator", "org_id": str(world.firm_id)},
    )
    assert response.status_code == 200
    assert ("用户已创建" if lang == "zh_CN" else "User created") in response.text
    found = _TOKEN.search(response.text)
    assert found is not None
    token = found[1]
    me = world.http.get("/v1/me", headers=auth(token)).json()
    assert me["name"] == "分析员王" and me["role"] == "operator" and me["org_id"] == world.firm_id
    listing = browser.get("/console/admin/users").text
    assert "分析员王" in listing and token not in listing
    assert token not in browser.get("/console/admin/tokens?state=").text  # shown once
    entry = [e for e in _actions(world) if e["action"] == "user.create"][-1]
    assert entry["actor"] == "user:admin" and entry["details"]["role"] == "operator"
    assert token not in str(_actions(world))


@pytest.mark.parametrize(
    ("case", "status", "says"),
    [
        ("unknown_org", 404, "no such organisation"),
        ("role_misfits_org", 403, "must belong to a bureau"),  # a steward in an operator firm
        ("no_org", 422, "请选择用户所属组织"),
        ("no_role", 422, "请选择用户角色"),
        ("name_taken", 409, "exists already"),
    ],
)
def test_admin_users_when_form_is_refused_then_4xx_at_the_top_with_values_kept(
    world: World, case: str, status: int, says: str
):
    browser, csrf = _admin(world)
    data = {"name": "新用户", "role": "operator", "org_id": str(world.firm_id)}
    match case:
        case "unknown_org":
            data["org_id"] = "999999"
        case "role_misfits_org":
            data["role"] = "steward"
        case "no_org":
            data["org_id"] = ""
        case "no_role":
            data["role"] = "superuser"
        case "name_taken":
            data["name"] = "operator"
    response = browser.post("/console/admin/users", data={"csrf": csrf, **data})
    assert response.status_code == status
    page = response.text
    assert says in page[page.index('id="form-error"') :]
    assert f'value="{data["name"]}"' in page
    assert _TOKEN.search(page) is None


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_admin_users_when_deactivated_then_their_token_and_session_stop_and_audited(
    world: World, lang: str
):
    steward_browser = _client(world)
    _sign_in(steward_browser, world.steward)
    browser, csrf = _admin(world, lang)
    steward_id = _user_id(world, "steward")
    response = browser.post(f"/console/admin/users/{steward_id}/deactivate", data={"csrf": csrf})
    assert response.status_code == 303
    page = browser.get(response.headers["location"]).text
    assert ("用户已停用" if lang == "zh_CN" else "User deactivated") in page
    row = page.split(f'data-user="{steward_id}"')[1].split("</tr>")[0]
    assert ("已停用" if lang == "zh_CN" else "deactivated") in row
    assert "danger deactivate" not in row
    assert world.http.get("/v1/me", headers=world.as_("steward")).status_code == 401
    assert steward_browser.get("/console/queue").headers["location"] == "/console/login"
    entry = [e for e in _actions(world) if e["action"] == "user.deactivate"][-1]
    assert entry["actor"] == "user:admin" and entry["subject"] == f"user:{steward_id}"
    again = browser.post(f"/console/admin/users/{steward_id}/deactivate", data={"csrf": csrf})
    assert again.status_code == 409


def test_admin_users_when_admin_deactivates_themself_or_unknown_then_4xx(world: World):
    browser, csrf = _admin(world)
    admin_id = _user_id(world, "admin")
    page = browser.get("/console/admin/users").text
    own_row = page.split(f'data-user="{admin_id}"')[1].split("</tr>")[0]
    assert "danger deactivate" not in own_row  # no button for oneself
    for user_id, status in ((admin_id, 403), (999999, 404), (0, 422)):
        posted = browser.post(f"/console/admin/users/{user_id}/deactivate", data={"csrf": csrf})
        assert posted.status_code == status
    assert browser.get("/console/admin/users").status_code == 200  # still signed in


# --- tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_admin_tokens_when_issued_then_shown_once_listed_by_label_and_revoked(
    world: World, lang: str
):
    browser, csrf = _admin(world, lang)
    operator_id = _user_id(world, "operator")
    issued = browser.post(
        "/console/admin/tokens",
        data={"csrf": csrf, "user_id": str(operator_id), "label": "笔记本 notebook"},
    )
    assert issued.status_code == 200
    assert ("令牌已签发" if lang == "zh_CN" else "Token issued") in issued.text
    token = _TOKEN.search(issued.text)
    assert token is not None
    assert world.http.get("/v1/me", headers=auth(token[1])).json()["name"] == "operator"
    listing = browser.get(f"/console/admin/tokens?user={operator_id}").text
    assert "笔记本 notebook" in listing and token[1] not in listing
    rows = re.findall(r'<tr class="token-row" data-token="(\d+)">', listing)
    assert len(rows) == 2  # the first token and this one, newest first
    new_id = int(rows[0])
    revoked = browser.post(f"/console/admin/tokens/{new_id}/revoke", data={"csrf": csrf})
    assert revoked.status_code == 303
    page = browser.get(revoked.headers["location"]).text
    assert ("令牌已吊销" if lang == "zh_CN" else "Token revoked") in page
    assert world.http.get("/v1/me", headers=auth(token[1])).status_code == 401
    assert world.http.get("/v1/me", headers=world.as_("operator")).status_code == 200  # the other
    gone = browser.get(f"/console/admin/tokens?user={operator_id}&state=revoked").text
    assert re.findall(r'data-token="(\d+)"', gone) == [str(new_id)]
    live = browser.get(f"/console/admin/tokens?user={operator_id}&state=live").text
    assert str(new_id) not in re.findall(r'data-token="(\d+)"', live)
    actions = [(e["action"], e["subject"]) for e in _actions(world)]
    assert ("token.issue", f"user:{operator_id}") in actions
    assert ("token.revoke", f"user:{operator_id}") in actions
    again = browser.post(f"/console/admin/tokens/{new_id}/revoke", data={"csrf": csrf})
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no_user", 422),  # nothing chosen
        ("unknown_user", 404),
        ("no_label", 422),
        ("deactivated_user", 409),  # a token that would sign no one in
    ],
)
def test_admin_tokens_when_form_is_refused_then_4xx_and_no_token(
    world: World, case: str, status: int
):
    browser, csrf = _admin(world)
    operator_id = _user_id(world, "operator")
    data = {"user_id": str(operator_id), "label": "laptop"}
    if case == "no_user":
        data["user_id"] = ""
    elif case == "unknown_user":
        data["user_id"] = "999999"
    elif case == "no_label":
        data["label"] = " "
    else:
        browser.post(f"/console/admin/users/{operator_id}/deactivate", data={"csrf": csrf})
    response = browser.post("/console/admin/tokens", data={"csrf": csrf, **data})
    assert response.status_code == status
    assert _TOKEN.search(response.text) is None and 'id="form-error"' in response.text
    if case != "no_label":
        assert 'value="laptop"' in response.text


def test_admin_tokens_when_own_session_token_revoked_then_signed_out(world: World):
    browser, csrf = _admin(world)
    admin_id = _user_id(world, "admin")
    with world.sandbox.db.session() as session:
        token_id = session.scalars(select(ApiToken.id).where(ApiToken.user_id == admin_id)).one()
    response = browser.post(f"/console/admin/tokens/{token_id}/revoke", data={"csrf": csrf})
    assert response.status_code == 303
    assert browser.get("/console/admin/tokens").headers["location"] == "/console/login"
