"""The ``sandbox-client`` command of the light client: ``verify`` a trading-venue package.

argparse only (no typer, no rich), so it runs on the client's base install; the
``sandbox`` command of the service offers the same check as ``sandbox verify``.

Exit codes: 0 verified, 1 the package does not verify, 2 nothing was checked (no
such file, a malformed ``--fingerprint``, ``cryptography`` not installed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib import metadata

from policies.errors import SandboxError
from sandbox.client.verify import report_lines, verify_package

#: Exit codes of ``verify``.
VERIFIED, NOT_VERIFIED, NOT_CHECKED = 0, 1, 2


def _version() -> str:
    try:
        return metadata.version("data-sandbox-client")
    except metadata.PackageNotFoundError:  # a source tree on PYTHONPATH
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sandbox-client",
        description="数据沙箱轻量客户端 Data Sandbox light client. From Python: "
        "`from sandbox.client import Client` (SANDBOX_URL, SANDBOX_TOKEN).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify",
        help="check a trading-venue package offline (signature, key fingerprint, product hash)",
        description="Check a package written by `sandbox export` offline: the manifest's "
        "Ed25519 signature under the enclosed key, the key's fingerprint, the product's "
        "SHA-256. Exit 0 verified, 1 not verified, 2 nothing checked.",
    )
    verify.add_argument("package", help="the exported .zip")
    verify.add_argument(
        "--fingerprint",
        help="the key fingerprint the data bureau publishes (64 hex digits): the package "
        "must be signed with that key",
    )
    verify.add_argument("--json", action="store_true", help="print JSON for scripts")
    return parser


def verify_command(package: str, fingerprint: str | None, as_json: bool) -> int:
    """Run ``verify``: print the report, return the exit code."""
    try:
        check = verify_package(package, fingerprint)
    except SandboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return NOT_CHECKED
    if as_json:
        fields = ("ok", "problems", "fingerprint", "job_id", "organisation", "product", "sha256")
        print(json.dumps({k: getattr(check, k) for k in fields}, ensure_ascii=False))
    else:
        for line in report_lines(check):
            print(line)
    return VERIFIED if check.ok else NOT_VERIFIED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sandbox-client`` script."""
    args = _parser().parse_args(argv)
    return verify_command(args.package, args.fingerprint, args.json)


if __name__ == "__main__":
    sys.exit(main())
