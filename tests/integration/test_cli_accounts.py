"""``sandbox admin org|user|token`` and bootstrap on a new host: the local admin commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from policies.errors import Unauthenticated
from sandbox.access.auth import authenticate
from sandbox.cli.main import app
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry

SECRET = "a-fixed-test-secret-of-forty-eight-characters-xx"


def admin_cli(data_dir: Path, *args: str) -> Any:
    """Run ``sandbox ARGS`` on the data folder (a secret set, as production does)."""
    env = {"SANDBOX_DATA_DIR": str(data_dir), "SANDBOX_SECRET_KEY": SECRET, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A bootstrapped host with a bureau and an operator firm."""
    data = tmp_path / "data"
    assert admin_cli(data, "admin", "bootstrap").exit_code == 0
    for name, kind in (("江苏省数据局", "bureau"), ("苏州数智运营有限公司", "operator")):
        made = admin_cli(data, "admin", "org", "create", name, "--kind", kind)
        assert made.exit_code == 0, made.output
    return data


def test_bootstrap_when_the_data_folder_does_not_exist_then_it_is_made_owner_only(
    tmp_path: Path,
):
    data = tmp_path / "new" / "nested" / "data"  # with SANDBOX_SECRET_KEY nothing makes it
    result = admin_cli(data, "admin", "bootstrap")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("sbx_")
    assert (data / "sandbox.db").stat().st_mode & 0o777 == 0o600
    assert data.stat().st_mode & 0o777 == 0o700


def test_admin_when_org_user_and_token_created_then_the_token_signs_in_and_cli_is_audited(
    host: Path,
):
    orgs = admin_cli(host, "admin", "org", "list", "--json")
    assert [(o["name"], o["kind"]) for o in json.loads(orgs.stdout)] == [
        ("platform", "platform"),
        ("江苏省数据局", "bureau"),
        ("苏州数智运营有限公司", "operator"),
    ]
    # by organisation name, and by id
    steward = admin_cli(
        host, "admin", "user", "create", "steward", "--org", "江苏省数据局", "--role", "steward"
    )
    analyst = admin_cli(
        host, "admin", "user", "create", "analyst", "--org", "3", "--role", "operator"
    )
    assert steward.exit_code == 0 and analyst.exit_code == 0, steward.output + analyst.output
    first = analyst.stdout.strip()  # the token alone on stdout, the note on stderr
    assert first.startswith("sbx_") and "shown once" in analyst.stderr
    users = json.loads(admin_cli(host, "admin", "user", "list", "--json").stdout)
    assert {u["name"]: (u["role"], u["org_name"]) for u in users}["analyst"] == (
        "operator",
        "苏州数智运营有限公司",
    )
    assert "sbx_" not in json.dumps(users)

    kept = admin_cli(host, "admin", "token", "create", "analyst", "--keep")
    rotated = admin_cli(host, "admin", "token", "create", "analyst")
    assert kept.exit_code == 0 and rotated.exit_code == 0, kept.output + rotated.output
    assert "2 earlier tokens revoked" in rotated.stderr

    db = Database(f"sqlite:///{host / 'sandbox.db'}")
    try:
        for revoked in (first, kept.stdout.strip()):
            with pytest.raises(Unauthenticated):
                authenticate(db, revoked, audit_failure=False)
        who = authenticate(db, rotated.stdout.strip(), audit_failure=False)
        assert (who.name, who.role.value, who.org_name) == (
            "analyst",
            "operator",
            "苏州数智运营有限公司",
        )
        with db.session() as session:
            actions = [
                (e.actor, e.action)
                for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
            ]
    finally:
        db.dispose()
    by_cli = [a for actor, a in actions if actor == "system:cli"]
    assert by_cli == [
        "org.create",
        "org.create",
        "user.create",
        "user.create",
        "token.issue",  # --keep: nothing revoked
        "token.revoke",
        "token.issue",
    ]
    verified = admin_cli(host, "audit", "verify")
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize(
    "args, says",
    [
        # an organisation nobody made
        (["user", "create", "x", "--org", "nowhere", "--role", "operator"], "no such organisation"),
        # a steward in an operator firm would review their own firm's jobs
        (
            ["user", "create", "x", "--org", "苏州数智运营有限公司", "--role", "steward"],
            "must belong to a bureau",
        ),
        # the API's own name rule: no spaces in a user name
        (["user", "create", "a b", "--org", "江苏省数据局", "--role", "steward"], "may hold"),
        # a name with a right-to-left override is refused without echoing it
        (["org", "create", "bad\u202ename", "--kind", "bureau"], "U+202E"),
        # a taken name
        (["org", "create", "江苏省数据局", "--kind", "bureau"], "exists already"),
        # a token for someone who does not exist
        (["token", "create", "nobody"], "no such user"),
    ],
)
def test_admin_when_input_is_refused_then_exit_2_with_the_reason_and_no_traceback(
    host: Path, args: list[str], says: str
):
    result = admin_cli(host, "admin", *args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "\u202e" not in result.output and "sbx_" not in result.stdout


def test_admin_when_the_kind_or_role_is_unknown_then_usage_error_lists_the_choices(host: Path):
    kind = admin_cli(host, "admin", "org", "create", "x", "--kind", "ministry")
    role = admin_cli(host, "admin", "user", "create", "x", "--org", "1", "--role", "root")
    assert kind.exit_code == 2 and "bureau" in kind.output and "operator" in kind.output
    assert role.exit_code == 2 and "steward" in role.output and "auditor" in role.output


def test_demo_csv_when_written_then_a_file_to_ingest_and_an_unwritable_path_exits_2(
    tmp_path: Path,
):
    made = admin_cli(tmp_path, "demo", "--csv", str(tmp_path / "out" / "r.csv"), "--rows", "50")
    assert made.exit_code == 0, made.output
    assert len((tmp_path / "out" / "r.csv").read_text(encoding="utf-8").splitlines()) == 51
    (tmp_path / "file").write_text("")
    refused = admin_cli(tmp_path, "demo", "--csv", str(tmp_path / "file" / "r.csv"))
    assert refused.exit_code == 2 and "cannot write" in refused.stderr
    assert "Traceback" not in refused.output
