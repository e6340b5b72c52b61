"""``sandbox datasets hierarchy``: a steward stores a column's generalization hierarchy.

The file is ARX's hierarchy CSV (``value;level1;…;*`` per line), as the bureau's
tools or Excel on Chinese Windows save it (UTF-8 or GB18030). It goes through the
API with the steward's token, like ``sandbox datasets ingest --hierarchy``; the
service checks that every value of the column has a line and audits the change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from policies.errors import InvalidRequest
from sandbox.cli import render as R
from sandbox.cli.remote import AsJson, Token, Url, _run
from sandbox.client import Client


def read_hierarchy(path: Path) -> str:
    """A hierarchy file's text: UTF-8 (with or without BOM), else GB18030 (Excel on
    Chinese Windows).

    Raises:
        InvalidRequest: The file cannot be read.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InvalidRequest(f"cannot read the hierarchy file {path}: {err.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def hierarchy(
    dataset: Annotated[str, typer.Argument(help="The dataset (of your bureau)")],
    column: Annotated[str, typer.Argument(help="A quasi-identifier of it")],
    file: Annotated[
        Path,
        typer.Argument(
            help="ARX's hierarchy CSV: value;level1;…;* per line", exists=True, dir_okay=False
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help='How extract specs name it ({"kind": "named", ...}); default: column'
        ),
    ] = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Store (or replace) a quasi-identifier's generalization hierarchy (steward; audited).

    Extracts use it for the column unless their spec gives another; a spec may
    also name it. Every value of the column needs a line. (``client.delete_hierarchy``
    or ``DELETE /v1/datasets/{name}/hierarchies/{column}`` removes it.)
    """
    text = read_hierarchy(file)

    def act(c: Client) -> dict[str, Any]:
        return c.put_hierarchy(dataset, column, text, name)

    done = _run(url, token, act)
    if as_json:
        R.dump(done)
    else:
        R.say(
            f"hierarchy '{done['name']}' of '{dataset}.{column}' stored: "
            f"{done['levels']} levels, {done['lines']} lines"
        )
