"""The ``sandbox`` command: serve, bootstrap, verify the audit chain, run the demo.

The commands that talk to a running service (``status``, ``datasets``,
``jobs``, ``review``, ``grants``, ``budget``) live in :mod:`sandbox._cli_remote`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from policies.errors import SandboxError
from sandbox import _cli_render as R
from sandbox._cli_remote import register as register_service_commands

if TYPE_CHECKING:
    from sandbox.settings import Settings

app = typer.Typer(
    help="Data Sandbox: a privacy-preserving operation sandbox for public data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
admin_app = typer.Typer(help="Platform administration.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")
pii_app = typer.Typer(help="Personal information in files.", no_args_is_help=True)
app.add_typer(pii_app, name="pii")
err = Console(stderr=True)


def _fail(error: SandboxError) -> NoReturn:
    err.print(Text.assemble(("error:", "red"), " ", R.safe(str(error))), highlight=False)
    raise typer.Exit(2)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default SANDBOX_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default SANDBOX_PORT)")] = None,
) -> None:
    """Run the API service (Ray starts inside it unless SANDBOX_RAY_ADDRESS is set)."""
    import uvicorn

    from sandbox.api.app import create_app
    from sandbox.service import Sandbox
    from sandbox.settings import Settings

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    try:
        settings = Settings.load(**overrides)
    except SandboxError as error:
        _fail(error)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        create_app(Sandbox(settings)),
        host=settings.host,
        port=settings.port,
        log_level="info",
        # uvicorn would believe X-Forwarded-For from loopback (its FORWARDED_ALLOW_IPS
        # default); the app believes only SANDBOX_FORWARDED_ALLOW_IPS
        proxy_headers=False,
        forwarded_allow_ips="",
    )


@admin_app.command("bootstrap")
def bootstrap(
    name: Annotated[str, typer.Option(help="The first admin's user name")] = "admin",
    org: Annotated[str, typer.Option(help="The platform organisation's name")] = "platform",
) -> None:
    """Create the first admin and print its token (once; it is stored hashed)."""
    from sandbox.auth import bootstrap as do_bootstrap
    from sandbox.store.db import Database

    try:
        settings = _settings()
        db = Database(settings.db_url)
        db.migrate()
        token = do_bootstrap(db, name, org)
    except SandboxError as error:
        _fail(error)
    R.say(f"admin '{name}' created; its token is shown once:", to_err=True)
    typer.echo(token)


@audit_app.command("verify")
def verify(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Walk the hash chain; exit 1 and name the first broken entry if it does not hold."""
    from sandbox.audit import verify as do_verify
    from sandbox.store.db import Database

    settings = _settings()
    db = Database(settings.db_url)
    db.migrate()
    with db.session() as session:
        result = do_verify(session)
    if as_json:
        fields = ("ok", "entries", "broken_at", "reason", "head")
        typer.echo(R.json_text({k: getattr(result, k) for k in fields}, indent=None))
    elif result.ok:
        R.say(f"audit chain holds: {result.entries} entries, head {result.head[:16]}…")
    else:
        R.say(
            f"audit chain BROKEN at entry {result.broken_at}: {result.reason} "
            f"({result.entries} entries verified before it)"
        )
    raise typer.Exit(0 if result.ok else 1)


@pii_app.command("scan")
def pii_scan(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file", exists=True, dir_okay=False)],
    columns: Annotated[
        str | None, typer.Option(help="Comma-separated columns to scan (default: all)")
    ] = None,
    batch_rows: Annotated[int, typer.Option(help="Rows scanned per batch", min=1)] = 100_000,
) -> None:
    """Write one JSON line per finding: row, column, entity, start, end (code points), score.

    Findings carry positions, never the values; a progress bar goes to stderr.
    """
    from sandbox.pii import scan_file_lines

    selected = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    try:
        for line in scan_file_lines(file, selected, batch_rows, progress=err):
            typer.echo(R.escape_json(line))  # column names come from the file
    except SandboxError as error:
        _fail(error)


@app.command()
def demo(
    rows: Annotated[int, typer.Option(help="Synthetic residents to generate")] = 5000,
) -> None:
    """Run the whole flow on embedded defaults in a fresh demo folder."""
    from sandbox.demo import run

    try:
        run(rows=rows)
    except SandboxError as error:
        _fail(error)


register_service_commands(app)


def _settings() -> Settings:
    from sandbox.settings import Settings

    try:
        return Settings.load()
    except SandboxError as error:
        _fail(error)


def main() -> None:
    """Entry point of the ``sandbox`` script."""
    app()


if __name__ == "__main__":
    main()
