"""What the CLI prints is terminal-safe: no escape sequence, control or bidi override from data."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from policies.errors import PolicyViolation
from sandbox.cli import remote as _cli_remote
from sandbox.cli.main import app

#: The attack seen in review: a Parquet column name quoted in a check reason erases the
#: line and prints a green verdict.
HOSTILE = "amount\x1b[2K\r\x1b[1A\x1b[32mALL CHECKS PASS\x1b[0m"
#: Bytes and characters a terminal acts on (C0 but tab/newline, DEL, C1, bidi controls).
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
JOB = {
    "id": 7,
    "kind": "custom",
    "status": "awaiting_review",
    "grant_id": 1,
    "epsilon": 0.0,
    "delta": 0.0,
    "created_at": "2026-01-01T00:00:00Z",
    "purpose": "totals \u202eKCAB\u202c by city",
    "error": "",
    "report": {
        "checks": [
            {"name": "file_type", "verdict": "fail", "reason": f"column '{HOSTILE}' holds ids"},
            {"name": "pii_scan", "verdict": "warn", "reason": "osc \x1b]0;owned\x07 \x9b2J c1"},
        ]
    },
}


class FakeClient:
    """The client as the CLI uses it, answering from :data:`JOB` (no service)."""

    def __init__(self, url: str | None, token: str | None) -> None:
        pass

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def job(self, job_id: int) -> Any:
        return SimpleNamespace(id=job_id, status=JOB["status"], data=JOB)

    def set_grant_state(self, grant_id: int, action: str, reason: str) -> dict[str, Any]:
        raise PolicyViolation(f"grant state '{HOSTILE}' cannot change")

    def start_budget_period(self, org_id: int, dataset: str, reason: str) -> dict[str, Any]:
        return {"period": f"2{HOSTILE}"}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(_cli_remote, "Client", FakeClient)

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})

    return run


def test_review_show_when_a_check_reason_holds_escapes_then_none_reach_the_terminal(cli):
    shown = cli("review", "show", "7")
    assert shown.exit_code == 0, shown.output
    assert not UNSAFE.search(shown.stdout), repr(shown.stdout)
    assert "ALL CHECKS PASS" in shown.stdout  # the text stays readable, its effects do not
    assert "\ufffd" in shown.stdout  # and the reviewer sees that something was there


def test_review_show_json_when_data_holds_controls_then_valid_json_with_escapes(cli):
    shown = cli("review", "show", "7", "--json")
    assert shown.exit_code == 0, shown.output
    assert not UNSAFE.search(shown.stdout), repr(shown.stdout)
    assert json.loads(shown.stdout) == JOB  # the exact values, for scripts
    assert "\\u202e" in shown.stdout and "\\u009b" in shown.stdout


def test_cli_when_the_service_refuses_with_escapes_in_its_message_then_stderr_is_clean(cli):
    refused = cli("grants", "suspend", "1", "--reason", "a good reason")
    assert refused.exit_code == 1
    assert "error:" in refused.stderr and "cannot change" in refused.stderr
    assert not UNSAFE.search(refused.stderr), repr(refused.stderr)


def test_grants_new_period_when_values_hold_markup_or_escapes_then_printed_as_text(cli):
    shown = cli("grants", "new-period", "3", "[bold]ds[/bold]", "--reason", "a new year")
    assert shown.exit_code == 0, shown.output
    assert not UNSAFE.search(shown.stdout), repr(shown.stdout)
    assert "[bold]ds[/bold]" in shown.stdout  # no markup read from a value
    assert "ALL CHECKS PASS" in shown.stdout


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain 中文 text", "plain 中文 text"),  # nothing to clean
        ("tab\tand\nnewline", "tab\tand\nnewline"),  # kept: they only move the cursor on
        ("\x1b[2Kerased", "\ufffderased"),  # CSI sequence, removed whole
        ("\x1b]8;;https://x\x1b\\link", "\ufffdlink"),  # OSC hyperlink
        ("over\rwrite", "over\ufffdwrite"),  # carriage return
        ("\x9b31mred", "\ufffdred"),  # 8-bit CSI
        ("abc\u202edef\u2066", "abc\ufffddef\ufffd"),  # bidi override and isolate
        ("bell\x07del\x7f", "bell\ufffddel\ufffd"),
    ],
)
def test_safe_when_text_holds_controls_then_each_shows_as_a_replacement(text, shown):
    from sandbox.cli.render import safe

    assert safe(text) == shown
