"""Trading-venue packages (art. 40) through the service: who may export, the audit entry,
and `sandbox export` / `sandbox verify` at a shell against a live service (no Ray)."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from jobs.runner import Outcome, Task, execute
from policies import venues as V
from sandbox.audit import signing
from sandbox.cli.demo import free_port, serving
from sandbox.cli.main import app
from sandbox.client.verify import verify_package
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.store.models import AuditEntry
from tests.factories import World, build_world, wait_status


class InProcessRunner:
    """The real executor, without Ray."""

    def run(self, task: Task) -> Outcome:
        return execute(task)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World, int, int]]:
    """A live service with one released job and one awaiting review."""
    sandbox = Sandbox(
        Settings(data_dir=tmp_path_factory.mktemp("export")), runner=InProcessRunner()
    )
    sandbox.start()
    with serving(sandbox, free_port()) as url, httpx.Client(base_url=url, timeout=60) as http:
        world = build_world(http, sandbox)  # type: ignore[arg-type]
        released = int(world.submit(epsilon=0.5, group_by=["city"]).json()["id"])
        waiting = int(world.submit(epsilon=0.3, group_by=["city"]).json()["id"])
        wait_status(world, released, {"awaiting_review"})
        wait_status(world, waiting, {"awaiting_review"})
        review = http.post(
            f"/v1/jobs/{released}/review",
            headers=world.as_("steward"),
            json={"decision": "approve", "reason": "aggregates, checks pass"},
        )
        assert review.status_code == 200, review.text
        yield url, world, released, waiting
    sandbox.close()


def _export(world: World, who: str, job_id: int) -> Any:
    return world.http.post(f"/v1/jobs/{job_id}/export", headers=world.as_(who))


def _exports(world: World) -> list[AuditEntry]:
    with world.sandbox.db.session() as session:
        stmt = select(AuditEntry).where(AuditEntry.action == "output.export")
        return list(session.scalars(stmt.order_by(AuditEntry.seq)))


def test_export_when_operator_of_the_firm_then_package_verifies_and_is_audited(
    served: tuple[str, World, int, int], tmp_path: Path
):
    _, world, released, _ = served
    before = len(_exports(world))
    response = _export(world, "operator", released)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    digest = hashlib.sha256(response.content).hexdigest()
    assert response.headers["X-Content-SHA256"] == digest
    package = tmp_path / "package.zip"
    package.write_bytes(response.content)
    pem = signing.public_key_pem(world.sandbox.settings.secret())
    check = verify_package(package, V.key_fingerprint(pem))
    assert check.ok, check.problems
    assert check.job_id == released and check.organisation == "firm"
    output = world.http.get(f"/v1/jobs/{released}/output", headers=world.as_("operator"))
    with zipfile.ZipFile(package) as archive:
        assert archive.read(check.product or "") == output.content  # the product as released
        assert "数据交易场所" in archive.read(V.README).decode()
    entries = _exports(world)
    assert len(entries) == before + 1
    entry = entries[-1]
    assert (entry.actor, entry.subject) == ("user:operator", f"job:{released}")
    assert entry.details["package_sha256"] == digest
    assert entry.details["product_sha256"] == check.sha256
    assert entry.details["key_fingerprint"] == check.fingerprint
    chain = world.http.get("/v1/audit/verify", headers=world.as_("auditor")).json()
    assert chain["ok"], chain


@pytest.mark.parametrize(
    ("who", "job", "status"),
    [
        ("operator", "waiting", 403),  # not released: nothing leaves (art. 37, 40)
        ("steward", "waiting", 403),  # a steward reads it for review, never exports it
        ("other_operator", "released", 404),  # another firm's job does not exist for it
        ("auditor", "released", 403),  # auditors read manifests, never products
        ("admin", "released", 403),
    ],
)
def test_export_when_caller_may_not_have_the_product_then_refused_and_not_audited(
    served: tuple[str, World, int, int], who: str, job: str, status: int
):
    _, world, released, waiting = served
    before = len(_exports(world))
    response = _export(world, who, released if job == "released" else waiting)
    assert response.status_code == status, response.text
    assert len(_exports(world)) == before


def test_export_when_steward_of_the_owning_bureau_then_allowed(
    served: tuple[str, World, int, int],
):
    _, world, released, _ = served
    response = _export(world, "steward", released)
    assert response.status_code == 200, response.text
    assert _exports(world)[-1].actor == "user:steward"


def test_cli_when_exported_then_verify_passes_and_a_wrong_fingerprint_fails(
    served: tuple[str, World, int, int], tmp_path: Path
):
    url, world, released, waiting = served

    def cli(*args: str) -> Any:
        env = {"SANDBOX_URL": url, "SANDBOX_TOKEN": world.operator, "COLUMNS": "250"}
        return CliRunner().invoke(app, list(args), env=env)

    target = tmp_path / "venue.zip"
    done = cli("export", str(released), "--to", str(target))
    assert done.exit_code == 0, done.output
    assert target.is_file() and "sandbox verify" in done.stdout
    verified = cli("verify", str(target))
    assert verified.exit_code == 0 and "校验通过 verified" in verified.stdout
    wrong = cli("verify", str(target), "--fingerprint", "ab" * 32)
    assert wrong.exit_code == 1 and "not the one whose fingerprint was given" in wrong.stdout
    refused = cli("export", str(waiting), "--to", str(tmp_path / "no.zip"))
    assert refused.exit_code == 1 and "only a released product" in refused.stderr
    assert not (tmp_path / "no.zip").exists()


def test_export_when_grant_suspended_then_operator_refused(
    served: tuple[str, World, int, int],
):
    _, world, released, _ = served
    suspend = world.http.post(
        f"/v1/grants/{world.grant_id}/suspend",
        headers=world.as_("steward"),
        json={"reason": "审计发现问题"},
    )
    assert suspend.status_code == 200, suspend.text
    try:
        response = _export(world, "operator", released)
        assert response.status_code == 403 and "art. 76" in response.json()["message"]
    finally:
        world.http.post(
            f"/v1/grants/{world.grant_id}/reinstate",
            headers=world.as_("steward"),
            json={"reason": "问题已解决"},
        )
