"""Trading venues (art. 40): ``sandbox export JOB --to FILE`` and ``sandbox verify FILE``.

``export`` asks the running service for the package (``POST /v1/jobs/{id}/export``,
audited there) with the caller's token, as the other service commands do;
``verify`` checks a package offline with the light client's
:func:`sandbox.client.verify.verify_package`, as ``sandbox-client verify`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sandbox.cli import render as R
from sandbox.cli.remote import Token, Url, _run
from sandbox.client.cli import verify_command


def export(
    job_id: Annotated[int, typer.Argument(help="A released job's id")],
    to: Annotated[
        Path,
        typer.Option("--to", help="The package to write (.zip), or a folder for job-N-venue.zip"),
    ],
    url: Url = None,
    token: Token = None,
) -> None:
    """Package a released product for a data trading venue (数据交易场所, art. 40).

    The zip holds the product, its signed manifest, the public key and its
    fingerprint, and a README (Chinese, English) on checking it offline; the
    service audits the export. Operators of the grantee firm and stewards may export.
    """
    written = _run(url, token, lambda c: c.job(job_id).export(to))
    R.say(f"job {job_id}: wrote {written}; check it with `sandbox verify {written}`")


def verify(
    package: Annotated[Path, typer.Argument(help="A package written by `sandbox export`")],
    fingerprint: Annotated[
        str | None,
        typer.Option(
            "--fingerprint",
            help="The key fingerprint the data bureau publishes: the package must be signed "
            "with that key",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """Check a trading-venue package offline: signature, key fingerprint, product SHA-256.

    Exit 0 verified, 1 not verified (changed or incomplete), 2 nothing checked.
    """
    raise typer.Exit(verify_command(str(package), fingerprint, as_json))


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``verify`` to the ``sandbox`` app."""
    app.command()(export)
    app.command()(verify)
