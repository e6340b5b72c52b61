"""The ``sandbox`` command, run as a user would."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _sandbox(data_dir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ``sandbox ARGS`` with only the given SANDBOX_* settings (and the data folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    env["SANDBOX_DATA_DIR"] = str(data_dir)
    env |= {f"SANDBOX_{k.upper()}": v for k, v in settings.items()}
    return subprocess.run(
        [sys.executable, "-m", "sandbox.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_when_bootstrapping_twice_then_second_is_refused(tmp_path: Path):
    first = _sandbox(tmp_path, "admin", "bootstrap")
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert token.startswith("sbx_") and len(token) > 40
    second = _sandbox(tmp_path, "admin", "bootstrap")
    assert second.returncode == 2
    assert "bootstrapped already" in second.stderr
    # the token is stored hashed, never in clear
    with sqlite3.connect(tmp_path / "sandbox.db") as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM api_tokens")]
    assert token not in stored and len(stored) == 1


def test_cli_when_audit_row_edited_then_verify_exits_1_naming_it(tmp_path: Path):
    assert _sandbox(tmp_path, "admin", "bootstrap").returncode == 0
    ok = _sandbox(tmp_path, "audit", "verify")
    assert ok.returncode == 0 and "holds" in ok.stdout
    with sqlite3.connect(tmp_path / "sandbox.db") as conn:
        conn.execute("UPDATE audit_log SET subject = 'org:999' WHERE seq = 2")
    broken = _sandbox(tmp_path, "audit", "verify")
    assert broken.returncode == 1
    assert "BROKEN at entry 2" in broken.stdout


def test_cli_when_tail_is_cut_after_a_checkpoint_then_verify_against_it_exits_1(tmp_path: Path):
    import json

    assert _sandbox(tmp_path, "admin", "bootstrap").returncode == 0
    printed = _sandbox(tmp_path, "audit", "checkpoint")
    assert printed.returncode == 0, printed.stderr
    head = json.loads(printed.stdout)
    assert set(head) == {"seq", "hash", "time", "mac_key", "signature"} and head["seq"] >= 2
    heads = tmp_path / "heads.jsonl"
    heads.write_text(printed.stdout)
    ok = _sandbox(tmp_path, "audit", "verify", "--against", str(heads), "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["published_heads"] == 1
    # Cutting the last entry leaves a chain whose links and MACs all hold: only the head tells.
    with sqlite3.connect(tmp_path / "sandbox.db") as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = ?", (head["seq"],))
    assert _sandbox(tmp_path, "audit", "verify").returncode == 0
    cut = _sandbox(tmp_path, "audit", "verify", "--against", str(heads))
    assert cut.returncode == 1
    assert f"BROKEN at entry {head['seq']}" in cut.stdout and "cut off its end" in cut.stdout
    heads.write_text('{"seq": 1}')
    bad = _sandbox(tmp_path, "audit", "verify", "--against", str(heads))
    assert bad.returncode == 2 and "copy it unchanged" in bad.stderr


def test_cli_when_the_secret_is_rotated_then_verify_needs_the_retired_key_declared(
    tmp_path: Path,
):
    old, new = (
        "an old secret of forty characters or so..",
        "the new secret of forty characters or so.",
    )
    assert _sandbox(tmp_path, "admin", "bootstrap", secret_key=old).returncode == 0
    printed = _sandbox(tmp_path, "audit", "key", secret_key=old)
    assert printed.returncode == 0, printed.stderr
    retired = tmp_path / "retired.jsonl"
    retired.write_text(printed.stdout)
    undeclared = _sandbox(tmp_path, "audit", "verify", secret_key=new)
    assert undeclared.returncode == 1 and "declare the old key" in undeclared.stdout
    declared = _sandbox(tmp_path, "audit", "verify", "--retired-keys", str(retired), secret_key=new)
    assert declared.returncode == 0 and "under a retired key" in declared.stdout
    configured = _sandbox(
        tmp_path, "audit", "verify", secret_key=new, audit_retired_keys=str(retired)
    )
    assert configured.returncode == 0, configured.stdout
    retired.write_text('{"mac_key": "not hex"}')
    bad = _sandbox(tmp_path, "audit", "verify", "--retired-keys", str(retired), secret_key=new)
    assert bad.returncode == 2 and "sandbox audit key" in bad.stderr


def test_cli_when_production_has_weak_secret_then_serve_refuses(tmp_path: Path):
    result = _sandbox(tmp_path, "serve", environment="production", secret_key="changethis")
    assert result.returncode == 2
    assert "weak" in result.stderr


def test_cli_when_pii_scan_runs_then_json_lines_with_code_point_offsets(tmp_path: Path):
    import json

    import polars as pl

    cells = ["联系人张伟，手机13912345678", "无", "身份证号 11010519491231002X。"]
    pl.DataFrame({"note": cells, "n": [1, 2, 3]}).write_parquet(tmp_path / "t.parquet")
    table = str(tmp_path / "t.parquet")
    result = _sandbox(tmp_path, "pii", "scan", table, "--columns", "note", "--batch-rows", "2")
    assert result.returncode == 0, result.stderr
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    by_entity = {(f["row"], f["entity"]): f for f in findings}
    phone = by_entity[(0, "PHONE_NUMBER")]
    assert cells[0][phone["start"] : phone["end"]] == "13912345678"
    rid = by_entity[(2, "CN_RESIDENT_ID")]  # row offset survives batching
    assert cells[2][rid["start"] : rid["end"]] == "11010519491231002X"
    assert set(findings[0]) == {"row", "column", "entity", "start", "end", "score"}
    assert "13912345678" not in result.stderr
    # an identifier used as a column name (a pivoted table) is reported with row -1
    pl.DataFrame({"13912345678": [1, 2]}).write_csv(tmp_path / "pivot.csv")
    pivot = _sandbox(tmp_path, "pii", "scan", str(tmp_path / "pivot.csv"))
    assert pivot.returncode == 0, pivot.stderr
    header = [json.loads(line) for line in pivot.stdout.splitlines()]
    assert [(f["row"], f["column"], f["entity"]) for f in header] == [
        (-1, "13912345678", "PHONE_NUMBER")
    ]
    missing = _sandbox(tmp_path, "pii", "scan", table, "--columns", "nope")
    assert missing.returncode == 2 and "no columns: nope" in missing.stderr
