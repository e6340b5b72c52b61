"""Hostile and foreign uploads at ingest and propose (issue 13): a 4xx, no value anywhere.

The service runs without Ray here: nothing in these tests submits a job.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from sandbox.access.auth import bootstrap
from sandbox.catalog import datasets as catalog
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.store.models import AuditEntry
from sandbox.web.app import create_app
from tests.factories import CITIES, auth, residents

MARKER = "ZZMARKER-4711"
METADATA = {
    "name": "residents",
    "source": "test upload",
    "open_attribute": "unconditional",
    "grade": "general",
}


class _NoRunner:
    def run(self, task: object) -> object:
        raise AssertionError("no job runs in these tests")


@dataclass
class Api:
    http: TestClient
    sandbox: Sandbox
    admin: str
    steward: str

    def ingest(self, data: bytes, **metadata: Any) -> Any:
        return self.http.post(
            "/v1/datasets",
            headers=auth(self.steward),
            files={"file": ("upload.csv", data)},
            data={"metadata": json.dumps(METADATA | metadata)},
        )

    def propose(self, data: bytes) -> Any:
        return self.http.post(
            "/v1/datasets/propose",
            headers=auth(self.steward),
            files={"file": ("upload.csv", data)},
        )

    def audit_text(self) -> str:
        with self.sandbox.db.session() as session:
            entries = session.scalars(select(AuditEntry)).all()
            return json.dumps(
                [[e.actor, e.subject, e.details] for e in entries], ensure_ascii=False
            )


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'sandbox.db'}",
        max_columns=50,
    )
    sandbox = Sandbox(settings, runner=_NoRunner())  # type: ignore[arg-type]
    # a fault must come back as the 500 a client sees, not as an exception in the test
    with TestClient(create_app(sandbox), raise_server_exceptions=False) as http:
        admin = bootstrap(sandbox.db)
        bureau = http.post("/v1/orgs", headers=auth(admin), json={"name": "局", "kind": "bureau"})
        steward = http.post(
            "/v1/users",
            headers=auth(admin),
            json={"name": "steward", "role": "steward", "org_id": bureau.json()["id"]},
        )
        yield Api(http, sandbox, admin, steward.json()["token"])


def _csv(frame: pl.DataFrame, encoding: str = "utf-8") -> bytes:
    return frame.write_csv().encode(encoding)


# --- encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_ingest_when_csv_from_chinese_excel_then_201_and_text_read_right(
    api: Api, encoding: str
) -> None:
    frame = residents(60).rename({"city": "城市", "age": "年龄"})
    proposed = api.propose(_csv(frame, encoding))
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["年龄"]["tag"] == "quasi_identifier"  # the header was read right
    response = api.ingest(_csv(frame, encoding), public_keys={"城市": CITIES})
    assert response.status_code == 201, response.text
    assert [c["name"] for c in response.json()["columns"]][2:4] == ["城市", "年龄"]
    with api.sandbox.db.session() as session:
        stored = catalog.scan_dataset(catalog.get(session, "residents").path).collect()
    assert sorted(stored["城市"].unique()) == sorted(CITIES)


def test_ingest_when_csv_in_another_encoding_then_422_naming_the_accepted_ones(api: Api) -> None:
    data = "city,note\nParis,café crème\n".encode("latin-1")
    for response in (api.ingest(data), api.propose(data)):
        assert response.status_code == 422, response.text
        assert "UTF-8" in response.json()["message"] and "GB18030" in response.json()["message"]


# --- malformed files: a line number, never a value -----------------------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (f"a,b\n1,2\n3,4,{MARKER}\n5,6\n", 3),  # a row with a field too many
        (f"a,b,c\n1,2,3\n{MARKER},5\n", 3),  # a row short of fields (accepted with nulls)
        (f'a,b\n1,2\n3,"{MARKER}\n5,6\n', 3),  # a quote that never closes
        (f"a,b\n1,2\n3,{MARKER}\x00\x01\x02\n", 3),  # binary bytes
        (f"a,b\n1,{MARKER}\x1b[2K\n", 2),  # a terminal escape
    ],
)
def test_ingest_when_csv_malformed_then_422_naming_the_line_and_the_value_nowhere(
    api: Api,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    data: str,
    line: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    for response in (api.ingest(data.encode()), api.propose(data.encode())):
        assert response.status_code == 422, response.text
        assert f"line {line} " in response.json()["message"]
        assert MARKER not in response.text
    captured = capfd.readouterr()
    assert MARKER not in caplog.text
    assert MARKER not in captured.out + captured.err
    assert MARKER not in api.audit_text()
    assert not list((api.sandbox.settings.data_dir / "uploads").iterdir())  # nothing left


def test_ingest_when_a_value_past_the_sampled_head_misfits_then_the_column_is_text(
    api: Api, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    # polars typed the column from 10,000 rows, then failed on this one quoting it (a 500)
    data = ("resident_no,household_size\n" + "".join(f"{i},1\n" for i in range(12_000))).encode()
    data += f"{MARKER},2\n".encode()
    caplog.set_level(logging.DEBUG)
    response = api.ingest(data, tags={"resident_no": "direct_identifier"})
    assert response.status_code == 201, response.text
    assert response.json()["row_count"] == 12_001
    assert next(c for c in response.json()["columns"] if c["name"] == "resident_no")[
        "dtype"
    ] == str(pl.String)
    captured = capfd.readouterr()
    assert MARKER not in caplog.text + captured.out + captured.err + api.audit_text()


# --- public keys that miss values of the data ----------------------------------------------


def test_ingest_when_public_keys_miss_values_then_422_with_counts_or_an_audited_reason(
    api: Api,
) -> None:
    frame = residents(60).with_columns(
        pl.when(pl.int_range(pl.len()) == 7)
        .then(pl.lit(MARKER))
        .when(pl.int_range(pl.len()) == 8)
        .then(None)
        .otherwise(pl.col("city"))
        .alias("city")
    )
    declared = {"city": CITIES[:2], "household_size": [1, 2, 3, 4, 5]}
    refused = api.ingest(_csv(frame), public_keys=declared)
    assert refused.status_code == 422, refused.text
    message = refused.json()["message"]
    # the third city, the marker and the empty cell: three distinct values the domain misses
    assert "'city' misses 3" in message and "public_keys_confirm_reason" in message
    assert "household_size" not in message  # its domain is complete
    assert MARKER not in message and CITIES[2] not in message
    assert not list(api.sandbox.settings.datasets_dir.rglob("*.parquet"))

    reason = "only the two cities of the pilot are published"
    accepted = api.ingest(_csv(frame), public_keys=declared, public_keys_confirm_reason=reason)
    assert accepted.status_code == 201, accepted.text
    with api.sandbox.db.session() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "dataset.ingest")
        ).one()
        assert entry.details["public_keys_missing"] == {"city": 3}
        assert entry.details["public_keys_confirm_reason"] == reason
    assert MARKER not in api.audit_text()


def test_ingest_when_public_keys_cover_the_data_then_no_reason_is_needed(api: Api) -> None:
    response = api.ingest(_csv(residents(60)), public_keys={"city": [*CITIES, "常州市"]})
    assert response.status_code == 201, response.text


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/orgs", {"name": "firm\n", "kind": "operator"}),  # a trailing newline
        ("/v1/orgs", {"name": "fi\u200brm", "kind": "operator"}),  # a zero-width space
        ("/v1/orgs", {"name": "firm\u202eexe", "kind": "operator"}),  # right-to-left override
        ("/v1/orgs", {"name": "p\u0430ypal", "kind": "operator"}),  # Cyrillic а among Latin
        ("/v1/users", {"name": "stew\u0430rd", "role": "steward", "org_id": 2}),  # Cyrillic а
        ("/v1/users", {"name": "ste\u200dward", "role": "steward", "org_id": 2}),  # joiner
        ("/v1/users", {"name": "\u0391lice", "role": "steward", "org_id": 2}),  # Greek Alpha
        ("/v1/users", {"name": "admin\u034f", "role": "steward", "org_id": 2}),  # invisible
        ("/v1/users", {"name": "\ufdfa", "role": "steward", "org_id": 2}),  # NFKC: 4 words
        ("/v1/orgs", {"name": "江苏エ信厅", "kind": "operator"}),  # Katakana エ for 工
    ],
)
def test_admin_when_a_name_is_misreadable_then_422_and_nothing_created(
    api: Api, path: str, body: dict[str, Any]
) -> None:
    before = api.audit_text()
    response = api.http.post(path, headers=auth(api.admin), json=body)
    assert response.status_code == 422, response.text
    assert api.audit_text() == before


@pytest.mark.parametrize(
    "name", ["2025年人口", "Jiangsu人口", "江苏省数据局 (Jiangsu Data Bureau)"]
)
def test_admin_when_chinese_mixes_with_latin_or_digits_then_the_name_is_accepted(
    api: Api, name: str
) -> None:
    response = api.http.post(
        "/v1/orgs", headers=auth(api.admin), json={"name": name, "kind": "bureau"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


def test_admin_when_a_name_is_fullwidth_then_stored_in_nfkc_form(api: Api) -> None:
    response = api.http.post(
        "/v1/orgs", headers=auth(api.admin), json={"name": "Ｆｉｒｍ ２", "kind": "operator"}
    )
    assert response.status_code == 201 and response.json()["name"] == "Firm 2"


@pytest.mark.parametrize("name", ["residents\n", "resid\u200bents", "ｒｅｓｉｄｅｎｔｓ\n"])
def test_ingest_when_the_dataset_name_is_misreadable_then_422(api: Api, name: str) -> None:
    response = api.ingest(_csv(residents(60)), name=name)
    assert response.status_code == 422, response.text
    assert not list(api.sandbox.settings.datasets_dir.rglob("*.parquet"))


def test_cli_bootstrap_when_a_name_is_misreadable_then_exit_2_and_no_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.cli.main import app

    monkeypatch.setenv("SANDBOX_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    refused = runner.invoke(app, ["admin", "bootstrap", "--name", "adm\u0456n"])
    assert refused.exit_code == 2, refused.output
    assert "user name" in refused.output
    refused = runner.invoke(app, ["admin", "bootstrap", "--org", "platform\u200b"])
    assert refused.exit_code == 2, refused.output
    accepted = runner.invoke(app, ["admin", "bootstrap", "--org", "江苏省平台"])
    assert accepted.exit_code == 0, accepted.output


def test_cli_pii_scan_when_csv_is_gbk_then_findings_come_back(tmp_path: Path) -> None:
    from sandbox.cli.main import app

    upload = tmp_path / "gbk.csv"
    upload.write_bytes("姓名,电话\n张三,13912345678\n李四,13987654321\n".encode("gbk"))
    result = CliRunner().invoke(app, ["pii", "scan", str(upload)])
    assert result.exit_code == 0, result.output
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert {(f["row"], f["column"], f["entity"]) for f in found} >= {
        (0, "电话", "PHONE_NUMBER"),
        (1, "电话", "PHONE_NUMBER"),
    }
    broken = tmp_path / "broken.csv"
    broken.write_bytes(f"a,b\n1,2,{MARKER}\n".encode())
    result = CliRunner().invoke(app, ["pii", "scan", str(broken)])
    assert result.exit_code == 2 and "line 2" in result.output and MARKER not in result.output


# --- width: a limit, and a proposal linear in the columns ------------------------------------


def test_propose_when_more_columns_than_the_setting_then_422(api: Api) -> None:
    wide = pl.DataFrame({f"c{i}": [1, 2] for i in range(51)})
    for response in (api.propose(_csv(wide)), api.ingest(_csv(wide))):
        assert response.status_code == 422, response.text
        assert "51 columns" in response.json()["message"]
        assert "SANDBOX_MAX_COLUMNS" in response.json()["message"]
    assert api.propose(_csv(wide.drop("c50"))).status_code == 200


def _best_cpu_time(path: Path, settings: Settings, runs: int = 2) -> float:
    """The least CPU time of the process (all threads) over ``runs`` proposals.

    CPU time, not wall time: the other processes on a shared machine barely change it.
    """
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        catalog.propose(path, settings)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.slow
def test_propose_when_eight_times_the_columns_then_at_most_twice_linear_cost(
    tmp_path: Path,
) -> None:
    # Before: 1,000 -> 3,000 columns cost 7.3x the CPU time (quadratic); now about 3x.
    settings = Settings(data_dir=tmp_path / "data", max_columns=10_000)
    cost = {}
    for width in (500, 4000):
        frame = pl.DataFrame(
            {f"c{i}": [f"v{j % 7}" if i % 2 else j for j in range(50)] for i in range(width)},
            strict=False,
        )
        path = tmp_path / f"w{width}.csv"
        frame.write_csv(path)
        cost[width] = _best_cpu_time(path, settings)
    assert cost[4000] / cost[500] < 2 * 8, cost


# --- propose and ingest see the same types ---------------------------------------------------


def test_propose_when_a_late_value_changes_a_type_then_it_agrees_with_the_ingest(
    api: Api,
) -> None:
    # 12-digit numbers, the last starting with a letter: the whole file makes it text
    codes = [str(100_000_000_000 + 7 * i) for i in range(30_000)]
    codes[-1] = "A" + codes[-1][1:]
    data = ("code,n\n" + "".join(f"{c},{i % 5}\n" for i, c in enumerate(codes))).encode()
    proposed = api.propose(data)
    assert proposed.status_code == 200, proposed.text
    ingested = api.ingest(data)
    assert ingested.status_code == 201, ingested.text
    column = next(c for c in ingested.json()["columns"] if c["name"] == "code")
    assert column["dtype"] == str(pl.String)
    assert proposed.json()["code"]["tag"] == column["proposed_tag"] == "direct_identifier"
