"""The ``sandbox`` command: serve, bootstrap, verify the audit chain, run the demo.

The commands that talk to a running service (``status``, ``datasets``,
``jobs``, ``review``, ``grants``, ``budget``) live in :mod:`sandbox.cli.remote`.

The module is long because each local command (serve, worker, the admin and audit groups,
pii, demo) is declared here with its options and help text for people at a shell; accounts,
steward and trading-venue commands have modules of their own.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from policies.errors import SandboxError
from sandbox.cli import render as R
from sandbox.cli.accounts import register as register_account_commands
from sandbox.cli.export import register as register_venue_commands
from sandbox.cli.remote import datasets_app, grants_app
from sandbox.cli.remote import register as register_service_commands
from sandbox.cli.steward import register as register_steward_commands

if TYPE_CHECKING:
    import uvicorn

    from sandbox.service import Sandbox
    from sandbox.settings import Settings
    from sandbox.store.db import Database

app = typer.Typer(
    help="Data Sandbox: a privacy-preserving operation sandbox for public data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
admin_app = typer.Typer(
    help="Platform administration, on this host: the settings' database and data folder "
    "directly, no token (the first admin, organisations and users come before any token).",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")
pii_app = typer.Typer(help="Personal information in files.", no_args_is_help=True)
app.add_typer(pii_app, name="pii")
err = Console(stderr=True)


def _fail(error: SandboxError) -> NoReturn:
    err.print(Text.assemble(("error:", "red"), " ", R.safe(str(error))), highlight=False)
    raise typer.Exit(2)


def _exit_quietly(signum: int, _frame: object) -> None:
    """SIGTERM's end once the service has drained: exit 0, no traceback."""
    raise SystemExit(0)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default SANDBOX_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default SANDBOX_PORT)")] = None,
) -> None:
    """Run the API service, and SANDBOX_WORKERS job workers beside it (0: API only).

    SIGTERM drains: no new request or job, running jobs finish within
    SANDBOX_DRAIN_GRACE_S, the rest go back to the queue; then exit 0.
    """
    import uvicorn

    from sandbox.service import Sandbox, logs
    from sandbox.settings import Settings
    from sandbox.web.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    try:
        settings = Settings.load(**overrides)
        sandbox = Sandbox(settings)
        sandbox.prepare_schema()  # here, so that a refusal prints without a traceback
    except SandboxError as error:
        _fail(error)
    logs.configure(settings)
    # uvicorn handles SIGTERM while it runs (stop accepting, finish requests, drain the
    # workers in the app's shutdown), then raises the signal again: this handler ends there.
    signal.signal(signal.SIGTERM, _exit_quietly)
    uvicorn.run(
        create_app(sandbox),
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=None,  # keep logs.configure's handler, format and access-log filter
        # uvicorn would believe X-Forwarded-For from loopback (its FORWARDED_ALLOW_IPS
        # default); the app believes only SANDBOX_FORWARDED_ALLOW_IPS
        proxy_headers=False,
        forwarded_allow_ips="",
    )


@app.command()
def worker() -> None:
    """Run job workers only (no API): they claim queued jobs from the database.

    SANDBOX_WORKERS and SANDBOX_UNTIMED_WORKERS say how many jobs of each sort run at
    once. SIGTERM (or Ctrl-C) drains: no new claim, running jobs finish within
    SANDBOX_DRAIN_GRACE_S, the rest go back to the queue; then exit 0.
    """
    from sandbox.service import Sandbox, logs
    from sandbox.settings import Settings

    try:
        settings = Settings.load()
    except SandboxError as error:
        _fail(error)
    logs.configure(settings)
    stop = threading.Event()
    sandbox = Sandbox(settings)
    if not sandbox.runs_jobs:
        _fail(
            SandboxError("SANDBOX_WORKERS and SANDBOX_UNTIMED_WORKERS are both 0: nothing to run")
        )
    # before the start: a SIGTERM while workers start must drain too (Ray's start keeps
    # this handler: jobs.runner)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _s, _f: stop.set())
    try:
        sandbox.start()
    except SandboxError as error:
        _fail(error)
    log = logging.getLogger("sandbox.worker")
    probes = _worker_probes(sandbox, settings)
    log.info(
        "worker %s running; probes and metrics on port %d",
        sandbox.jobs.executor.owner,
        settings.worker_port,
    )
    while not stop.wait(1.0):
        pass
    log.info("stopping: draining (at most %g s)", settings.drain_grace_s)
    handed = sandbox.jobs.drain()
    sandbox.close(grace_s=0)
    probes.should_exit = True
    log.info("stopped; %d running jobs handed back to the queue", handed)


def _worker_probes(sandbox: Sandbox, settings: Settings) -> uvicorn.Server:
    """Serve a worker's /healthz, /readyz and /metrics on SANDBOX_HOST:SANDBOX_WORKER_PORT,
    in a thread (uvicorn installs no signal handler outside the main thread)."""
    import uvicorn

    from sandbox.web.app import create_worker_app

    config = uvicorn.Config(
        create_worker_app(sandbox),
        host=settings.host,
        port=settings.worker_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        forwarded_allow_ips="",
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="worker-probes", daemon=True).start()
    return server


@admin_app.command("bootstrap")
def bootstrap(
    name: Annotated[str, typer.Option(help="The first admin's user name")] = "admin",
    org: Annotated[str, typer.Option(help="The platform organisation's name")] = "platform",
) -> None:
    """Create the first admin and print its token (once; it is stored hashed)."""
    from sandbox.access.auth import bootstrap as do_bootstrap

    try:
        settings = _settings()
        db = _database(settings)
        token = do_bootstrap(db, name, org)
    except SandboxError as error:
        _fail(error)
    R.say(f"admin '{name}' created; its token is shown once:", to_err=True)
    typer.echo(token)


@admin_app.command("migrate")
def migrate() -> None:
    """Apply the database migrations up to this version's head, and nothing else.

    Run it once per upgrade (in Kubernetes, as a Job before the rolling update); a
    production service does not migrate at start (SANDBOX_MIGRATE_ON_START).
    """
    from sandbox.service import private_dir, private_sqlite_file
    from sandbox.store.db import Database

    settings = _settings()
    private_dir(settings.data_dir)  # a new host's first command may be this one
    private_sqlite_file(settings.db_url)
    db = Database(settings.db_url)
    try:
        before = db.revision()
        db.migrate()
        after = db.revision()
    finally:
        db.dispose()
    if before == after:
        R.say(f"the database is at {after} already (this version's head)")
    else:
        R.say(f"the database migrated from {before or '(empty)'} to {after}")


@admin_app.command("backup")
def backup(
    to: Annotated[
        Path, typer.Option("--to", help="A new (or empty) folder to write the backup into")
    ],
) -> None:
    """Back up the database and the data folder while the service runs (not the secret)."""
    from sandbox.service.backup import create

    settings = _settings()
    try:
        db = _database(settings)
        made = create(db, settings, to, actor="system:cli")
    except SandboxError as error:
        _fail(error)
    R.say(
        f"backup written to {made.path}: {made.files} files, {made.bytes} bytes, database at "
        f"{made.revision}; manifest SHA-256 {made.manifest_sha256}"
    )


@admin_app.command("restore")
def restore(
    source: Annotated[
        Path, typer.Argument(help="A folder written by `sandbox admin backup`", file_okay=False)
    ],
) -> None:
    """Restore a backup into an empty deployment, then verify the audit chain and datasets.

    The deployment must be configured with the backed-up deployment's secret key,
    database kind and data folder; exit 1 if the restored state does not verify.
    """
    from sandbox.service.backup import RestoreFailed
    from sandbox.service.backup import restore as do_restore

    settings = _settings()
    try:
        done = do_restore(settings, source, actor="system:cli")
    except RestoreFailed as error:
        err.print(Text.assemble(("error:", "red"), " ", R.safe(str(error))), highlight=False)
        raise typer.Exit(1) from error
    except SandboxError as error:
        _fail(error)
    R.say(
        f"restored {done.files} files and the database; verified {done.audit_entries} audit "
        f"entries, {done.releases} releases and {done.datasets} datasets' files"
    )


@admin_app.command("retention")
def retention() -> None:
    """Delete the outputs of rejected, returned and failed jobs past SANDBOX_RETENTION_DAYS."""
    from sandbox.service.retention import sweep

    settings = _settings()
    try:
        deleted = sweep(_database(settings), settings)
    except SandboxError as error:
        _fail(error)
    R.say(f"{deleted} job outputs deleted (kept {settings.retention_days} days)")


@audit_app.command("verify")
def verify(
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="Heads published earlier by `sandbox audit checkpoint` (one a line, or a list)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    retired_keys: Annotated[
        Path | None,
        typer.Option(
            "--retired-keys",
            help="Keys of secrets used before a rotation (`sandbox audit key` outputs, one a "
            "line); added to SANDBOX_AUDIT_RETIRED_KEYS",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Check the chain (links, MACs), the releases and published heads; exit 1 on a problem."""
    from sandbox.audit.anchors import load_heads
    from sandbox.audit.anchors import retired_keys as read_retired
    from sandbox.audit.verify import verify as do_verify

    settings = _settings()
    try:
        heads = load_heads(against.read_text(encoding="utf-8")) if against else []
        retired = read_retired(settings.audit_retired_keys) + read_retired(retired_keys)
        db = _database(settings)
        with db.session() as session:
            result = do_verify(session, settings.secret(), heads, retired)
    except SandboxError as error:
        _fail(error)
    if as_json:
        fields = (
            "ok",
            "entries",
            "broken_at",
            "reason",
            "head",
            "head_seq",
            "unmaced",
            "legacy",
            "releases",
            "published_heads",
            "note",
        )
        typer.echo(R.json_text({k: getattr(result, k) for k in fields}, indent=None))
    elif result.ok:
        R.say(
            f"audit chain holds: {result.entries} entries (links and MACs), "
            f"{result.releases} releases, {result.published_heads} published heads; "
            f"head {result.head_seq} {result.head[:16]}…"
        )
    else:
        R.say(
            f"audit chain BROKEN at entry {result.broken_at}: {result.reason} "
            f"({result.entries} entries checked)"
        )
    if result.note:
        R.say(f"note: {result.note}")
    raise typer.Exit(0 if result.ok else 1)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Print the chain head signed (JSON), to publish outside this host.

    Keep every head printed (append it to a file elsewhere: a ticket, a mail, another
    organisation); `sandbox audit verify --against FILE` then finds any rewriting or
    truncation of the chain up to the newest of them. Refused if the chain is broken.
    """
    from sandbox.audit.anchors import checkpoint as do_checkpoint
    from sandbox.audit.anchors import retired_keys
    from sandbox.audit.verify import verify as do_verify

    settings = _settings()
    try:
        retired = retired_keys(settings.audit_retired_keys)
        db = _database(settings)
        with db.session() as session:
            result = do_verify(session, settings.secret(), retired=retired)
            head = do_checkpoint(session, settings.secret()) if result.ok else None
    except SandboxError as error:
        _fail(error)
    if head is None:
        R.say(
            f"error: the audit chain is broken at entry {result.broken_at} "
            f"({result.reason}); no head is signed for it: investigate first",
            to_err=True,
        )
        raise typer.Exit(1)
    typer.echo(R.escape_json(json.dumps(head, sort_keys=True, ensure_ascii=False)))


@audit_app.command("key")
def key() -> None:
    """Print the current audit MAC key's fingerprint and the public signing key (JSON).

    Keep it before rotating the secret: after the rotation, `sandbox audit verify
    --retired-keys FILE` (or SANDBOX_AUDIT_RETIRED_KEYS) with this line in FILE accepts
    the entries, manifests and heads made under the old secret, and nothing else does.
    """
    from sandbox.audit.anchors import key_record

    typer.echo(R.escape_json(json.dumps(key_record(_settings().secret()), sort_keys=True)))


@pii_app.command("scan")
def pii_scan(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file", exists=True, dir_okay=False)],
    columns: Annotated[
        str | None, typer.Option(help="Comma-separated columns to scan (default: all)")
    ] = None,
    batch_rows: Annotated[int, typer.Option(help="Rows scanned per batch", min=1)] = 100_000,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help="Read free text on Ray's workers (SANDBOX_RAY_ADDRESS, else a local Ray)",
        ),
    ] = False,
) -> None:
    """Write one JSON line per finding: row, column, entity, start, end (code points), score.

    Findings carry positions, never the values; a progress bar goes to stderr. With
    --ray, large free-text columns are read in slices on Ray (the same findings).
    """
    from sandbox.catalog.pii import scan_file_lines

    if ray:
        from jobs.runner import RayRunner

        settings = _settings()
        RayRunner(settings.ray_address, settings.ray_num_cpus).start()
    selected = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    try:
        for line in scan_file_lines(file, selected, batch_rows, progress=err):
            typer.echo(R.escape_json(line))  # column names come from the file
    except SandboxError as error:
        _fail(error)


@app.command()
def demo(
    rows: Annotated[int, typer.Option(help="Synthetic residents to generate", min=1)] = 5000,
    csv: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Only write the synthetic residents (invented, seeded) to this CSV file and "
            "exit: data for a first `sandbox datasets ingest`",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Run the whole flow on embedded defaults in a fresh demo folder."""
    from sandbox.cli.demo import run

    if csv is not None:
        from sandbox.cli.demo_data import write_demo_csv

        try:
            write_demo_csv(csv, n=rows)
        except OSError as error:
            R.say(f"error: cannot write {csv}: {error.strerror}", to_err=True)
            raise typer.Exit(2) from error
        R.say(f"{rows} synthetic residents written to {csv}")
        return
    try:
        run(rows=rows)
    except SandboxError as error:
        _fail(error)


register_service_commands(app)
register_account_commands(admin_app)
register_steward_commands(datasets_app, grants_app)
register_venue_commands(app)


def _settings() -> Settings:
    from sandbox.settings import Settings

    try:
        return Settings.load()
    except SandboxError as error:
        _fail(error)


def _database(settings: Settings) -> Database:
    """The migrated store (:func:`sandbox.cli.local.open_database`: made if missing)."""
    from sandbox.cli.local import open_database

    return open_database(settings)


def main() -> None:
    """Entry point of the ``sandbox`` script."""
    app()


if __name__ == "__main__":
    main()
