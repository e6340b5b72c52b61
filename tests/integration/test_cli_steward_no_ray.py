"""``sandbox datasets ingest`` and ``sandbox grants create``, through the API as the steward,
against a server without Ray (no test here runs a job)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from sandbox.cli.main import app
from tests.factories import World, residents
from tests.integration.test_cli_listings import as_json, sandbox_cli

pytestmark = pytest.mark.slow

CITIES = "city=南京市,苏州市,无锡市"


@pytest.fixture(scope="module")
def live(ray_free_live: tuple[str, World]) -> Iterator[tuple[str, World]]:
    yield ray_free_live


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The factory's residents as a CSV file, with a column of names."""
    frame = residents(300).with_columns(
        pl.Series("name", [f"{'王李张刘陈'[i % 5]}{'伟芳娜敏静'[i % 7 % 5]}" for i in range(300)])
    )
    path = tmp_path_factory.mktemp("ingest") / "people.csv"
    frame.write_csv(path)
    return path


def _identifiers(path: Path) -> list[str]:
    frame = pl.read_csv(path, infer_schema=False)
    return [*frame["resident_id"].head(20), *frame["phone"].head(20), *frame["name"].head(20)]


def test_ingest_when_accepted_then_proposals_shown_first_and_the_dataset_is_the_stewards(live, csv):
    result = sandbox_cli(
        live,
        "steward",
        "datasets",
        "ingest",
        str(csv),
        "--name",
        "people",
        "--open-attribute",
        "unconditional",
        "--grade",
        "general",
        "--privacy-unit",
        "resident_id",
        "--public-key",
        CITIES,
        "--description",
        "测试居民",
        "--group-size-band",
        "city=50-150",
        "--yes",
    )
    assert result.exit_code == 0, result.output
    shown = result.stdout
    assert shown.index("proposed") < shown.index("dataset 'people' ingested: 300 rows")
    assert "CN_RESIDENT_ID" in shown and "PHONE_NUMBER" in shown  # the evidence: entity names
    assert not [v for v in _identifiers(csv) if v in result.output]  # never a value
    people = as_json(live, "steward", "datasets", "show", "people")
    tags = {c["name"]: c["tag"] for c in people["columns"]}
    assert tags["resident_id"] == tags["phone"] == tags["name"] == "direct_identifier"
    assert people["public_keys"] == {"city": ["南京市", "苏州市", "无锡市"]}
    assert people["group_size_bands"] == {"city": {"low": 50, "high": 150}}
    assert people["source"] == "file people.csv" and people["description"] == "测试居民"
    # the audit log names the steward, not the command line
    _url, world = live
    audit = world.http.get("/v1/audit", headers={"Authorization": f"Bearer {world.auditor}"})
    entries = [e for e in audit.json() if e["action"] == "dataset.ingest"]
    assert entries[-1]["actor"] == "user:steward"
    # the group still lists, bare or as `list`, and shows by name
    assert sandbox_cli(live, "steward", "datasets").stdout.count("people") == 1
    assert "people" in sandbox_cli(live, "steward", "datasets", "list").stdout
    assert "resident_id" in sandbox_cli(live, "steward", "datasets", "people").stdout


def test_ingest_when_not_confirmed_at_a_terminal_then_nothing_is_stored(live, csv):
    result = sandbox_cli(
        live,
        "steward",
        "datasets",
        "ingest",
        str(csv),
        "--name",
        "unasked",
        "--open-attribute",
        "unconditional",
        "--grade",
        "general",
    )
    assert result.exit_code == 1
    assert "proposed" in result.stdout and "--yes" in result.stderr
    assert "nothing stored" in result.stderr
    names = [d["name"] for d in as_json(live, "steward", "datasets")]
    assert "unasked" not in names


@pytest.mark.parametrize("answer, stored", [("n\n", False), ("y\n", True)])
def test_ingest_when_asked_at_a_terminal_then_the_answer_decides(
    live, csv, monkeypatch, answer, stored
):
    monkeypatch.setattr("sandbox.cli.steward._interactive", lambda: True)
    name = f"asked_{answer.strip()}"
    url, world = live
    env = {"SANDBOX_URL": url, "SANDBOX_TOKEN": world.steward, "COLUMNS": "200"}
    args = ["datasets", "ingest", str(csv), "--name", name]
    args += ["--open-attribute", "conditional", "--grade", "important"]
    result = CliRunner().invoke(app, args, env=env, input=answer)
    assert result.exit_code == (0 if stored else 1), result.output
    assert f"Ingest '{name}' with these tags?" in result.output
    assert (name in [d["name"] for d in as_json(live, "steward", "datasets")]) is stored


@pytest.mark.parametrize(
    "extra, who, code, says",
    [
        # a tag less protective than the proposal needs --override with a reason
        (["--tag", "phone=plain"], "steward", 1, "override"),
        # a column the file lacks
        (["--tag", "nothing=plain"], "steward", 1, "columns the file lacks: nothing"),
        # not a tag
        (["--tag", "phone=secret"], "steward", 2, "must be one of"),
        # not COLUMN=TAG
        (["--tag", "phone"], "steward", 2, "COLUMN=VALUE"),
        # a public-keys file that is no JSON object
        (["--public-keys", "KEYS"], "steward", 2, "JSON object"),
        # a band that is not LOW-HIGH
        (["--group-size-band", "city=many"], "steward", 2, "LOW-HIGH"),
        # a band the service refuses (low above high, or on a column no query groups by)
        (["--group-size-band", "city=300-100"], "steward", 1, "band"),
        # an operator may not ingest (the service says so)
        ([], "operator", 1, "steward"),
    ],
)
def test_ingest_when_input_is_refused_then_a_clear_error_and_nothing_stored(
    live, csv, tmp_path, extra, who, code, says
):
    keys = tmp_path / "keys.json"
    keys.write_text("[1, 2]")
    extra = [str(keys) if e == "KEYS" else e for e in extra]
    result = sandbox_cli(
        live,
        who,
        "datasets",
        "ingest",
        str(csv),
        "--name",
        "refused",
        "--open-attribute",
        "unconditional",
        "--grade",
        "general",
        "--yes",
        *extra,
    )
    assert result.exit_code == code, result.output
    assert says in result.output and "Traceback" not in result.output
    assert not [v for v in _identifiers(csv) if v in result.output]
    assert "refused" not in [d["name"] for d in as_json(live, "steward", "datasets")]


def test_grants_create_when_steward_names_the_firm_then_granted_and_operator_sees_it(live):
    _url, world = live
    result = sandbox_cli(
        live,
        "steward",
        "grants",
        "create",
        "--org",
        "firm",
        "--datasets",
        "residents",
        "--kinds",
        "aggregate,extract",
        "--purpose",
        "区域收入统计，用于规划报告",
        "--epsilon",
        "0.5",
        "--expires",
        "2099-06-30",
    )
    assert result.exit_code == 0, result.output
    grant_id = int(result.stdout.split()[1].rstrip(":"))
    grant = as_json(live, "operator", "grants", "show", str(grant_id))
    assert grant["kinds"] == ["aggregate", "extract"] and grant["epsilon_total"] == 0.5
    assert grant["expires_at"].startswith("2099-06-30T15:59:59")  # 23:59:59 in UTC+8
    by_id = as_json(
        live,
        "steward",
        "grants",
        "create",
        "--org",
        str(world.other_firm_id),
        "--datasets",
        "residents",
        "--kinds",
        "aggregate",
        "--purpose",
        "统计报告",
        "--epsilon",
        "1",
        "--expires",
        "30d",
    )
    assert by_id["org_id"] == world.other_firm_id and by_id["state"] == "active"


@pytest.mark.parametrize(
    "args, who, code, says",
    [
        # no organisation of that name
        (["--org", "nobody", "--expires", "30d"], "steward", 1, "no such organisation"),
        # the service checks the role: an operator may not grant (it cannot list firms)
        (["--org", "firm", "--expires", "30d"], "operator", 1, "steward"),
        # an expiry neither days, a date nor a date-time
        (["--org", "firm", "--expires", "next week"], "steward", 2, "number of days"),
        # the service refuses a past expiry or a negative budget with the field's name
        (["--org", "firm", "--expires", "30d", "--epsilon", "-1"], "steward", 1, "epsilon"),
    ],
)
def test_grants_create_when_refused_then_a_clear_error(live, args, who, code, says):
    base = ["--datasets", "residents", "--kinds", "aggregate", "--purpose", "统计报告"]
    if "--epsilon" not in args:
        base += ["--epsilon", "1"]
    result = sandbox_cli(live, who, "grants", "create", *base, *args)
    assert result.exit_code == code, result.output
    assert says in result.output and "Traceback" not in result.output


def test_grants_create_when_the_kind_is_unknown_then_the_service_lists_the_kinds(live):
    result = sandbox_cli(
        live,
        "steward",
        "grants",
        "create",
        "--org",
        "firm",
        "--datasets",
        "residents",
        "--kinds",
        "magic",
        "--purpose",
        "统计报告",
        "--epsilon",
        "1",
        "--expires",
        "30d",
    )
    assert result.exit_code == 1 and "aggregate" in result.stderr
    assert json.dumps("magic") not in result.stderr  # the input is not echoed


def test_ingest_when_hierarchy_files_given_then_stored_with_the_dataset(live, csv, tmp_path):
    hierarchy = tmp_path / "城市.csv"  # saved by Excel on Chinese Windows: GB18030
    hierarchy.write_bytes("南京市;苏南;*\n苏州市;苏南;*\n无锡市;苏南;*\n".encode("gb18030"))
    result = sandbox_cli(
        live,
        "steward",
        "datasets",
        "ingest",
        str(csv),
        "--name",
        "people_regions",
        "--open-attribute",
        "unconditional",
        "--grade",
        "general",
        "--tag",
        "city=quasi_identifier",
        "--hierarchy",
        f"city={hierarchy}",
        "--yes",
    )
    assert result.exit_code == 0, result.output
    _url, world = live
    listed = world.http.get(
        "/v1/datasets/people_regions/hierarchies",
        headers={"Authorization": f"Bearer {world.steward}"},
    ).json()
    assert [(h["column"], h["levels"], h["lines"]) for h in listed] == [("city", 2, 3)]


def test_hierarchy_when_stored_from_the_shell_then_listed_and_a_bad_file_refused(live, tmp_path):
    good = tmp_path / "region.csv"
    good.write_text("\ufeff南京市;苏南;*\n苏州市;苏南;*\n无锡市;苏南;*\n", encoding="utf-8")
    stored = sandbox_cli(
        live, "steward", "datasets", "hierarchy", "residents", "city", str(good), "--name", "区域"
    )
    assert stored.exit_code == 0, stored.output
    assert "hierarchy '区域' of 'residents.city' stored: 2 levels, 3 lines" in stored.stdout
    short = tmp_path / "short.csv"
    short.write_text("南京市;苏南;*\n", encoding="utf-8")
    refused = sandbox_cli(live, "steward", "datasets", "hierarchy", "residents", "city", str(short))
    assert refused.exit_code == 1 and "no line" in refused.output
    assert "苏州市" not in refused.output and "无锡市" not in refused.output
