"""The whole flow, end to end, on embedded defaults (``make demo``).

Starts the real service (HTTP on a free loopback port, SQLite, local Ray)
in a fresh folder ``<data_dir>/demo``, then plays each role through the
Python client: the admin sets up organisations and users, the steward
ingests synthetic Jiangsu residents and grants an operator, the operator
submits a DP aggregate and an anonymized extract, the steward reviews them
in the console (screenshots go to ``<data_dir>/demo/screenshots``) and
approves, the operator downloads the released products, and the auditor
verifies the audit chain and the manifest signature.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import uvicorn
from rich.console import Console
from rich.text import Text

from jobs.kinds.aggregate import KIND as AGGREGATE
from jobs.kinds.extract import KIND as EXTRACT
from policies.errors import BudgetExhausted, InternalError
from sandbox.access.auth import bootstrap
from sandbox.audit import signing
from sandbox.cli.demo_data import DEMO_TAGS, JIANGSU_CITIES, write_demo_csv
from sandbox.cli.render import safe
from sandbox.client import Client
from sandbox.service import Sandbox
from sandbox.settings import Settings
from sandbox.web.app import create_app

console = Console()


def _say(text: str) -> None:
    """Print a line holding values the service sent: no markup, controls made safe."""
    console.print(Text(safe(text)), markup=False, highlight=False)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(sandbox: Sandbox, port: int, timeout: float = 60.0) -> Iterator[str]:
    """Run the API on ``127.0.0.1:port`` in a thread; yield its URL; stop it after."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(sandbox), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise InternalError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _step(text: str) -> None:
    console.rule(f"[bold]{text}")


def run(rows: int = 5000, settings: Settings | None = None) -> pl.DataFrame:
    """Play the whole flow; return the released table.

    Args:
        rows: Synthetic residents to generate.
        settings: Base settings; the demo uses ``<data_dir>/demo``, recreated each run.
    """
    base = settings or Settings.load()
    folder = base.data_dir / "demo"
    shutil.rmtree(folder, ignore_errors=True)
    settings = base.model_copy(update={"data_dir": folder, "database_url": None})
    sandbox = Sandbox(settings)
    sandbox.start()

    _step("admin: bootstrap, organisations and users")
    admin_token = bootstrap(sandbox.db)
    with serving(sandbox, free_port()) as url, Client(url, admin_token) as admin:
        bureau = admin.create_org("江苏省数据局 (Jiangsu Data Bureau)", "bureau")
        firm = admin.create_org("苏州数智运营有限公司 (operator)", "operator")
        steward_tok = admin.create_user("steward", "steward", bureau["id"])["token"]
        auditor_tok = admin.create_user("auditor", "auditor", bureau["id"])["token"]
        operator_tok = admin.create_user("analyst", "operator", firm["id"])["token"]
        console.print(f"service at {url}; organisations {bureau['id']}, {firm['id']}")

        with (
            Client(url, steward_tok) as steward,
            Client(url, operator_tok) as analyst,
            Client(url, auditor_tok) as auditor,
        ):
            _step("steward: ingest synthetic Jiangsu residents")
            csv = write_demo_csv(folder / "residents.csv", n=rows)
            ds = steward.ingest(
                csv,
                name="jiangsu_residents",
                source="synthetic (Faker zh_CN, "
                "seeded); demo of the provincial population register",
                open_attribute="conditional",
                grade="general",
                tags=DEMO_TAGS,
                privacy_unit="resident_id",
                public_keys={"city": list(JIANGSU_CITIES)},
                description="Residents of Jiangsu's 13 cities",
            )
            csv.unlink()
            console.print(
                f"ingested {ds['row_count']} rows, sha256 {ds['sha256'][:16]}…, "
                f"{len(ds['columns'])} tagged columns"
            )

            _step("steward: grant the operator (art. 34, 35)")
            grant = steward.create_grant(
                org_id=firm["id"],
                datasets=["jiangsu_residents"],
                purpose="Regional income statistics for a public-service planning report",
                kinds=[AGGREGATE.name, EXTRACT.name],
                epsilon=3.0,
                delta=0.0,
                commitment_required=True,
                expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=90),
            )
            console.print(
                f"grant {grant['id']}: ε={grant['epsilon_total']}, "
                f"expires {grant['expires_at'][:10]}"
            )

            _step("operator: accept the data-use commitment (art. 34)")
            accepted = analyst.accept_commitment(grant["id"])
            console.print(
                f"grant {grant['id']}: commitment accepted at "
                f"{accepted['commitment_accepted_at'][:19]}"
            )

            _step("operator: submit a DP aggregate through the client")
            spec = {
                "kind": AGGREGATE.name,
                "dataset": "jiangsu_residents",
                "group_by": ["city"],
                "filters": [{"column": "age", "op": "ge", "value": 18}],
                "aggregates": [
                    {"op": "count", "name": "residents"},
                    {
                        "op": "mean",
                        "column": "income",
                        "lower": 0,
                        "upper": 500_000,
                        "name": "mean_income",
                    },
                ],
                "epsilon": 1.0,
            }
            job = analyst.submit(grant["id"], spec, purpose="income by city")
            job.wait(timeout=300)
            console.print(f"job {job.id}: {job.status}; budget now {analyst.budget(grant['id'])}")
            try:
                analyst.submit(grant["id"], {**spec, "epsilon": 5.0})
            except BudgetExhausted as refused:
                _say(f"an overspending job is refused: {refused}")

            _step("operator: submit an anonymized extract (art. 37)")
            extract = analyst.submit(
                grant["id"],
                {
                    "kind": EXTRACT.name,
                    "dataset": "jiangsu_residents",
                    "columns": ["sex", "age", "city", "education", "income"],
                    "k": 5,
                    "l": 2,
                    "suppression_limit": 0.05,
                },
                purpose="k-anonymous micro-data for a service-planning model",
            )
            extract.wait(timeout=300)
            console.print(f"job {extract.id}: {extract.status}")

            _step("steward: the review console (screenshots into the data folder)")
            from sandbox.web.console.screenshots import capture, capture_admin

            shots = capture(url, steward_tok, folder / "screenshots")
            shots += capture_admin(url, admin_token, steward_tok, folder / "screenshots")
            for shot in shots:
                console.print(f"  {shot.resolve()}")
            if not shots:
                console.print("  no screenshots: Chromium is not installed (see the log)")

            _step("steward: review and approve")
            checks = steward.job(job.id).data["report"]["checks"]
            for c in checks:
                _say(f"  check {c['name']}: {c['verdict']} ({c['reason']})")
            steward.review(
                job.id, "approve", "aggregates only; checks pass; small cells suppressed"
            )
            report = steward.job(extract.id).data["report"]
            loss = report["information_loss"]
            _say(
                f"  extract: k={report['k_achieved']} (target {report['k_target']}), "
                f"{report['records_suppressed']} of {report['records_in']} records suppressed, "
                f"information loss {loss['metric']} = {loss['value']:.3f}"
            )
            for c in report["checks"]:
                _say(f"  check {c['name']}: {c['verdict']} ({c['reason']})")
            steward.review(extract.id, "approve", "k-anonymous, l-diverse; checks pass")
            extracted = analyst.job(extract.id).result()
            console.print(f"  the operator receives {extracted.height} generalized rows, e.g.:")
            print(extracted.head(3))

            _step("operator: download the released product")
            table = analyst.job(job.id).result()
            with pl.Config(
                tbl_rows=20,
                tbl_width_chars=160,
                float_precision=1,
                tbl_hide_dataframe_shape=True,
                tbl_hide_column_data_types=True,
            ):
                print(table)

            _step("auditor: verify the audit chain and the manifest signature")
            verdict = auditor.audit_verify()
            if not verdict["ok"]:
                raise InternalError(f"audit chain broken at entry {verdict['broken_at']}")
            release = analyst.job(job.id).manifest()
            key = signing.public_key_pem(settings.secret())
            if not signing.verify(key, release["manifest"], release["signature"]):
                raise InternalError("the manifest signature does not verify")
            console.print(
                f"audit chain holds ({verdict['entries']} entries); manifest signature verifies"
            )
    sandbox.close()
    console.print(f"[green]demo finished[/green]; its data folder is {Path(folder).resolve()}")
    return table
