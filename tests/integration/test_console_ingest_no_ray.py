"""The console's ingest pages over HTTP: upload, the PII proposals, confirm; roles, CSRF, 4xx.

Ingest runs no job (no Ray); SQLite and PostgreSQL; Chinese (the default) and English.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sandbox.service import Sandbox
from sandbox.web.console import staged
from tests.factories import World, residents
from tests.integration.test_console import _client, _sign_in


@pytest.fixture
def service(
    ray_free_service: tuple[TestClient, Sandbox],
) -> Iterator[tuple[TestClient, Sandbox]]:
    yield ray_free_service


_STAGED = re.compile(r"^/console/datasets/staged/([0-9a-f]{32})$")
_SELECT = re.compile(r'<select name="tag_(\d+)"[^>]*>(.*?)</select>', re.S)
_GIVEN = "伟芳娜敏静丽强磊军洋"


def _people(n: int = 60) -> list[tuple[str, str, str, int, int]]:
    """Made-up rows: name, mobile number, city, age, income."""
    return [
        (
            f"张{_GIVEN[i % 10]}{_GIVEN[(i // 10) % 10]}",
            f"139{i:08d}",
            ["南京市", "苏州市", "无锡市"][i % 3],
            20 + i % 40,
            3000 + 10 * i,
        )
        for i in range(n)
    ]


def gbk_csv(rows: list[tuple[str, str, str, int, int]] | None = None) -> bytes:
    """A CSV as Excel saves it on Chinese Windows: GBK, CRLF."""
    lines = ["姓名,手机号,城市,年龄,收入"]
    lines += [",".join(str(v) for v in row) for row in rows or _people()]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def _steward(world: World, lang: str = "zh_CN") -> tuple[TestClient, str]:
    browser = _client(world, lang=lang)
    return browser, _sign_in(browser, world.steward)


def _stage(
    browser: TestClient, csrf: str, body: bytes, filename: str = "居民.csv"
) -> tuple[str, str]:
    """Upload; return the staged id and the confirm page."""
    response = browser.post(
        "/console/datasets/propose",
        data={"csrf": csrf},
        files={"file": (filename, body, "text/csv")},
    )
    assert response.status_code == 303, response.text
    found = _STAGED.match(response.headers["location"])
    assert found is not None
    page = browser.get(response.headers["location"])
    assert page.status_code == 200
    return found[1], page.text


def _proposed(page: str) -> list[str]:
    """The tag each column's select starts with (the proposal)."""
    tags = []
    for _, options in _SELECT.findall(page):
        chosen = re.search(r'value="(\w+)" selected', options)
        assert chosen is not None
        tags.append(chosen[1])
    return tags


def _confirm(browser: TestClient, csrf: str, stage_id: str, tags: list[str], **fields: Any) -> Any:
    data = {
        "csrf": csrf,
        "name": "residents_gbk",
        "source": "江苏省公安厅人口库",
        "description": "常住人口",
        "open_attribute": "conditional",
        "grade": "general",
        "privacy_unit": "手机号",
        **{f"tag_{i}": t for i, t in enumerate(tags)},
        **fields,
    }
    return browser.post(f"/console/datasets/staged/{stage_id}", data=data)


def _uploads(world: World) -> list[str]:
    return sorted(p.name for p in (world.sandbox.settings.data_dir / "uploads").glob("console-*"))


def _audit(world: World, action: str) -> list[dict[str, Any]]:
    entries = world.http.get("/v1/audit?limit=1000", headers=world.as_("auditor")).json()
    return [e for e in entries if e["action"] == action]


# --- the happy paths ----------------------------------------------------------------------


def test_ingest_pages_when_gbk_csv_from_excel_then_proposals_shown_and_ingested_in_chinese(
    world: World,
):
    browser, csrf = _steward(world)
    upload = browser.get("/console/datasets/new")
    assert upload.status_code == 200 and "<h1>导入数据集</h1>" in upload.text
    assert 'enctype="multipart/form-data"' in upload.text
    stage_id, page = _stage(browser, csrf, gbk_csv())
    assert "<h1>确认导入</h1>" in page and 'lang="zh-CN"' in page
    names = re.findall(r'<td class="column-name">([^<]*)</td>', page)
    assert names == ["姓名", "手机号", "城市", "年龄", "收入"]  # GBK read as GBK
    tags = _proposed(page)
    assert tags[1] == "direct_identifier" and "直接标识符" in page
    assert "抽样单元格数" in page  # evidence, as counts
    for name, phone, *_ in _people():
        assert name not in page and phone not in page  # never a value of the file
    assert len(_uploads(world)) == 2  # the file and its record, for this session
    response = _confirm(browser, csrf, stage_id, tags)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/catalog#dataset-residents_gbk"
    dataset = world.http.get("/v1/datasets/residents_gbk", headers=world.as_("steward")).json()
    assert [c["name"] for c in dataset["columns"]] == names
    assert dataset["columns"][1]["tag"] == "direct_identifier"
    assert {c["tag_source"] for c in dataset["columns"]} == {"proposal"}
    assert dataset["open_attribute"] == "conditional" and dataset["source"] == "江苏省公安厅人口库"
    entry = _audit(world, "dataset.ingest")[-1]
    assert entry["actor"] == "user:steward" and entry["details"]["name"] == "residents_gbk"
    assert _uploads(world) == []  # removed once ingested
    assert browser.get(f"/console/datasets/staged/{stage_id}").status_code == 404
    assert 'id="dataset-residents_gbk"' in browser.get("/console/catalog").text


def test_ingest_pages_when_parquet_in_english_and_a_tag_raised_then_steward_is_its_source(
    world: World,
):
    browser, csrf = _steward(world, "en")
    buffer = io.BytesIO()
    residents(100).write_parquet(buffer)
    stage_id, page = _stage(browser, csrf, buffer.getvalue(), "more_residents.parquet")
    assert "<h1>Confirm the ingest</h1>" in page and 'lang="en"' in page
    assert 'value="more_residents"' in page  # the name suggested by the file's name
    assert "cells sampled" in page
    tags = _proposed(page)
    columns = re.findall(r'<td class="column-name">([^<]*)</td>', page)
    household = columns.index("household_size")
    assert tags[household] == "plain"
    tags[household] = "sensitive"  # more protective: no reason needed
    response = _confirm(
        browser, csrf, stage_id, tags, name="more_residents", privacy_unit="resident_id"
    )
    assert response.status_code == 303, response.text
    dataset = world.http.get("/v1/datasets/more_residents", headers=world.as_("steward")).json()
    column = next(c for c in dataset["columns"] if c["name"] == "household_size")
    assert column["tag"] == "sensitive" and column["tag_source"] == "steward"
    assert dataset["privacy_unit"] == "resident_id"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_ingest_confirm_when_tag_less_protective_without_reason_then_422_kept_then_override(
    world: World, lang: str
):
    browser, csrf = _steward(world, lang)
    stage_id, page = _stage(browser, csrf, gbk_csv())
    tags = _proposed(page)
    tags[1] = "plain"  # the mobile numbers, proposed direct identifiers
    refused = _confirm(browser, csrf, stage_id, tags, description="给<b>审核</b>看的说明")
    assert refused.status_code == 422
    text = refused.text
    top = text.index('id="form-error"')
    assert top < text.index("<table") and "protect less" in text[top:]
    assert ("数据集未导入" if lang == "zh_CN" else "The dataset was not ingested") in text
    assert 'value="residents_gbk"' in text and "&lt;b&gt;审核&lt;/b&gt;" in text  # kept, escaped
    assert _proposed(text)[1] == "plain"  # the typed tag is kept
    for _, phone, *_ in _people():
        assert phone not in text
    accepted = _confirm(
        browser, csrf, stage_id, tags, override_1="号码已被脱敏为区号 (no longer a number)"
    )
    assert accepted.status_code == 303, accepted.text
    entry = _audit(world, "dataset.ingest")[-1]
    reason = "号码已被脱敏为区号 (no longer a number)"
    assert entry["details"]["tag_overrides"] == {"手机号": reason}


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"source": " "}, 422, "source"),  # missing provenance
        ({"name": "居民"}, 422, "dataset name"),  # not a-z
        ({"name": "residents"}, 409, "exists already"),  # the world's dataset
        ({"grade": "secret"}, 422, "请从列表中选择数据分级"),  # not a grade
        ({"open_attribute": ""}, 422, "请从列表中选择开放属性"),  # missing
        ({"privacy_unit": "身份证"}, 422, "隐私单元"),  # not a column of the file
        ({"tag_0": "secretive"}, 422, "每一列的标签"),  # not a tag
    ],
)
def test_ingest_confirm_when_fields_are_bad_then_4xx_with_values_kept_and_the_file_waits(
    world: World, fields: dict[str, str], status: int, says: str
):
    browser, csrf = _steward(world)
    stage_id, page = _stage(browser, csrf, gbk_csv())
    tags = _proposed(page)
    refused = _confirm(browser, csrf, stage_id, tags, **fields)
    assert refused.status_code == status
    assert says in refused.text[refused.text.index('id="form-error"') :]
    assert "江苏省公安厅人口库" in refused.text or fields.get("source") == " "
    assert len(_uploads(world)) == 2  # the file waits for a corrected form
    assert _confirm(browser, csrf, stage_id, tags).status_code == 303


# --- refused uploads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "filename", "says"),
    [
        (b"\x00\x01\x02binary\x00", "data.csv", "control characters"),  # not text
        (b"PK\x03\x04" + b"\x00" * 64, "book.xlsx", "control characters"),  # an Excel workbook
        (  # UTF-8 with a row pasted from a GBK file
            ("姓名,城市\r\n" + "张三,南京市\r\n" * 20).encode() + "李四,苏州市\r\n".encode("gbk"),
            "mixed.csv",
            "mixes encodings",
        ),
        (b"", "empty.csv", "文件为空"),  # nothing in it
        (b"a,b\n1,2,3\n", "ragged.csv", "fields"),  # a row wider than the header
        (None, "", "请选择要上传的"),  # no file chosen
    ],
    ids=["binary", "xlsx", "mixed", "empty", "ragged", "none"],
)
def test_ingest_upload_when_file_is_bad_then_422_on_the_upload_page_and_nothing_kept(
    world: World, body: bytes | None, filename: str, says: str
):
    browser, csrf = _steward(world)
    files = {"file": (filename, body or b"", "text/csv")} if body is not None else None
    response = browser.post("/console/datasets/propose", data={"csrf": csrf}, files=files)
    assert response.status_code == 422
    assert says in response.text[response.text.index('id="form-error"') :]
    assert 'id="file"' in response.text  # the upload form again
    assert _uploads(world) == []


def test_ingest_upload_when_larger_than_the_limit_then_422(world: World):
    world.sandbox.settings.max_upload_bytes = 100
    browser, csrf = _steward(world, "en")
    response = browser.post(
        "/console/datasets/propose",
        data={"csrf": csrf},
        files={"file": ("big.csv", gbk_csv(), "text/csv")},
    )
    assert response.status_code == 422 and "larger than 100 bytes" in response.text
    assert _uploads(world) == []


def test_ingest_upload_when_filename_holds_markup_then_it_is_escaped(world: World):
    browser, csrf = _steward(world)
    _, page = _stage(browser, csrf, gbk_csv(), '<img src=x onerror="alert(1)">.csv')
    assert "<img src=x" not in page and "&lt;img src=x" in page


# --- who may, and for how long ------------------------------------------------------------


def test_ingest_pages_when_auditor_then_403_and_no_link(world: World):
    browser = _client(world)
    csrf = _sign_in(browser, world.auditor)
    assert 'href="/console/datasets/new"' not in browser.get("/console/queue").text
    assert browser.get("/console/datasets/new").status_code == 403
    response = browser.post(
        "/console/datasets/propose",
        data={"csrf": csrf},
        files={"file": ("居民.csv", gbk_csv(), "text/csv")},
    )
    assert response.status_code == 403 and _uploads(world) == []


def test_ingest_pages_when_csrf_missing_then_403_and_nothing_stored(world: World):
    browser, csrf = _steward(world)
    response = browser.post(
        "/console/datasets/propose", files={"file": ("居民.csv", gbk_csv(), "text/csv")}
    )
    assert response.status_code == 403 and _uploads(world) == []
    stage_id, page = _stage(browser, csrf, gbk_csv())
    forged = _confirm(browser, "forged", stage_id, _proposed(page))
    assert forged.status_code == 403
    stored = world.http.get("/v1/datasets/residents_gbk", headers=world.as_("steward"))
    assert stored.status_code == 404


def test_ingest_staged_when_another_session_or_expired_or_unknown_then_404(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    browser, csrf = _steward(world)
    stage_id, page = _stage(browser, csrf, gbk_csv())
    other, other_csrf = _steward(world)  # the same steward, another browser
    assert other.get(f"/console/datasets/staged/{stage_id}").status_code == 404
    stolen = _confirm(other, other_csrf, stage_id, _proposed(page))
    assert stolen.status_code == 404 and "重新上传" in stolen.text
    assert browser.get("/console/datasets/staged/nothex").status_code == 404
    assert browser.get(f"/console/datasets/staged/{'0' * 32}").status_code == 404
    monkeypatch.setattr(staged, "TTL_S", -1.0)
    expired = browser.get(f"/console/datasets/staged/{stage_id}")
    assert expired.status_code == 404 and "重新上传" in expired.text
    assert _uploads(world) == []  # an expired upload is removed


def test_ingest_staged_when_discarded_then_the_file_is_gone(world: World):
    browser, csrf = _steward(world)
    stage_id, _ = _stage(browser, csrf, gbk_csv())
    response = browser.post(f"/console/datasets/staged/{stage_id}/discard", data={"csrf": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/console/datasets/new"
    assert _uploads(world) == []
    assert browser.get(f"/console/datasets/staged/{stage_id}").status_code == 404


def test_staged_purge_when_files_are_older_than_the_limit_then_removed(world: World):
    browser, csrf = _steward(world)
    _stage(browser, csrf, gbk_csv())
    assert staged.purge(world.sandbox.settings) == 0
    assert staged.purge(world.sandbox.settings, now=9e12) == 2
    assert _uploads(world) == []


def test_ingest_confirm_when_a_racing_confirmation_took_the_file_then_404_not_500(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    from sandbox.catalog import datasets as catalog

    browser, csrf = _steward(world)
    stage_id, page = _stage(browser, csrf, gbk_csv())
    ingest = catalog.ingest

    def raced(*args: Any) -> Any:
        args[4].unlink()  # the other confirmation ingested and removed it meanwhile
        return ingest(*args)

    monkeypatch.setattr(catalog, "ingest", raced)
    response = _confirm(browser, csrf, stage_id, _proposed(page))
    assert response.status_code == 404 and "重新上传" in response.text
    assert _uploads(world) == []
