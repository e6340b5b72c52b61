"""``sandbox datasets ingest`` and ``sandbox grants create``: a steward's work at a shell.

Both go through the API with the steward's own token (``--url`` / ``--token`` or
``SANDBOX_URL`` / ``SANDBOX_TOKEN``), not through the host's database: the
service checks the steward's role and bureau (a dataset belongs to the bureau
of the steward who ingested it; only that bureau grants it, art. 63) and the
audit log names the steward, as it does for the console and the client.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from policies.catalog import ColumnTag, Grade, OpenAttribute
from policies.errors import InvalidRequest, NotFound
from sandbox.cli import render as R
from sandbox.cli.hierarchies import hierarchy as store_hierarchy
from sandbox.cli.hierarchies import read_hierarchy
from sandbox.cli.remote import AsJson, Token, Url, _run
from sandbox.client import Client

#: China Standard Time (UTC+8, no daylight saving): a date or time given without a zone.
CST = dt.timezone(dt.timedelta(hours=8), "CST")
_DAYS = re.compile(r"(\d{1,5})d")


def _pairs(given: list[str], what: str) -> dict[str, str]:
    """``COLUMN=VALUE`` options as a dict; a malformed one is refused naming the option."""
    found: dict[str, str] = {}
    for item in given:
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            raise typer.BadParameter(f"write {what} as COLUMN=VALUE")
        found[column.strip()] = value.strip()
    return found


def _tags(given: list[str]) -> dict[str, str]:
    tags = _pairs(given, "--tag")
    choices = {t.value for t in ColumnTag}
    for column, tag in tags.items():
        if tag not in choices:
            raise typer.BadParameter(
                f"the tag of column '{column}' must be one of {', '.join(sorted(choices))}",
                param_hint="--tag",
            )
    return tags


def _public_keys(given: list[str], keys_file: Path | None) -> dict[str, list[Any]]:
    """Declared key domains: from a JSON file (typed values), then ``COL=V1,V2`` (text)."""
    keys: dict[str, list[Any]] = {}
    if keys_file is not None:
        try:
            loaded = json.loads(keys_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise typer.BadParameter(
                "the file must be a JSON object: column -> list of values (UTF-8)",
                param_hint="--public-keys",
            ) from err
        if not isinstance(loaded, dict) or not all(isinstance(v, list) for v in loaded.values()):
            raise typer.BadParameter(
                "the file must be a JSON object: column -> list of values",
                param_hint="--public-keys",
            )
        keys.update(loaded)
    for column, values in _pairs(given, "--public-key").items():
        keys[column] = [v.strip() for v in values.split(",") if v.strip()]
    return keys


def _bands(given: list[str]) -> dict[str, dict[str, int]]:
    """Group-size bands from ``COLUMNS=LOW-HIGH`` (columns comma-joined, whole numbers)."""
    bands: dict[str, dict[str, int]] = {}
    for columns, band in _pairs(given, "--group-size-band").items():
        low, sep, high = band.partition("-")
        if not (sep and low.strip().isdigit() and high.strip().isdigit()):
            raise typer.BadParameter(
                f"the band of '{columns}' must be LOW-HIGH in rows per group, e.g. 200-2000",
                param_hint="--group-size-band",
            )
        bands[columns] = {"low": int(low), "high": int(high)}
    return bands


def _hierarchies(given: list[str]) -> dict[str, str]:
    return {c: read_hierarchy(Path(f)) for c, f in _pairs(given, "--hierarchy").items()}


def _evidence(evidence: dict[str, Any]) -> str:
    """A proposal's evidence as one line: counts and entity names (it holds no value)."""
    parts = []
    for key, value in evidence.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def _show_proposals(proposals: dict[str, Any], declared: dict[str, str]) -> None:
    R.out.print(
        R.table(
            "tags proposed by the personal-information scan (counts and entity names, no value)",
            ["column", "proposed", "rule", "evidence", "you declared"],
            [
                [c, p["tag"], p["rule"], _evidence(p.get("evidence") or {}), declared.get(c)]
                for c, p in proposals.items()
            ],
        )
    )


def ingest(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (UTF-8 or GB18030/GBK, header row) or Parquet", exists=True, dir_okay=False
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="The dataset's name in the catalog")],
    open_attribute: Annotated[
        OpenAttribute,
        typer.Option(
            "--open-attribute",
            help="Art. 34: unconditional (无条件开放), conditional (有条件开放: grants need "
            "the operator's commitment) or closed (不予开放: never granted); no default, "
            "you decide",
        ),
    ],
    grade: Annotated[
        Grade,
        typer.Option(
            "--grade",
            help="Art. 62: general (一般), important (重要: two stewards approve each "
            "output) or core (核心: no output); no default, you decide",
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option("--source", help="Provenance (default: the file's name)"),
    ] = None,
    description: Annotated[str, typer.Option("--description", help="What the data is")] = "",
    privacy_unit: Annotated[
        str | None,
        typer.Option(
            "--privacy-unit",
            help="The column naming a person (e.g. resident_id); default: one row per person",
        ),
    ] = None,
    tag: Annotated[
        list[str],
        typer.Option(
            "--tag",
            help="COLUMN=TAG (direct_identifier, quasi_identifier, sensitive, plain); other "
            "columns take the proposal. Repeat it.",
        ),
    ] = [],  # noqa: B006 (typer reads the default; never mutated)
    override: Annotated[
        list[str],
        typer.Option(
            "--override",
            help="COLUMN=REASON, for a --tag less protective than the proposal (audited)",
        ),
    ] = [],  # noqa: B006
    public_key: Annotated[
        list[str],
        typer.Option(
            "--public-key",
            help="COLUMN=V1,V2,…: the complete domain of a text column (e.g. the 13 cities); "
            "groups by it need no δ. Repeat it.",
        ),
    ] = [],  # noqa: B006
    public_keys: Annotated[
        Path | None,
        typer.Option(
            "--public-keys",
            help="A JSON file: column -> list of values (for numbers and dates)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    public_keys_confirm_reason: Annotated[
        str,
        typer.Option(
            "--public-keys-confirm-reason",
            help="Why rows whose values the declared keys miss may drop out (audited)",
        ),
    ] = "",
    group_size_band: Annotated[
        list[str],
        typer.Option(
            "--group-size-band",
            help="COLUMNS=LOW-HIGH: how many rows a group by these columns (comma-joined) "
            "holds, for operators' estimates (e.g. city=200-2000). Repeat it.",
        ),
    ] = [],  # noqa: B006
    hierarchy: Annotated[
        list[str],
        typer.Option(
            "--hierarchy",
            help="COLUMN=FILE.csv: the quasi-identifier's generalization hierarchy in ARX's "
            "format (value;level1;…;* per line, UTF-8 or GB18030), used by extracts. "
            "Repeat it.",
        ),
    ] = [],  # noqa: B006
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Accept the tags shown without asking")
    ] = False,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Ingest a file into the catalog (steward): show the proposed tags, then store it.

    The personal-information scan proposes each column's tag first (nothing is
    stored); a column you do not --tag takes its proposal. Without --yes you are
    asked to confirm, and without a terminal to ask on nothing is stored.

    Runs through the API as you (SANDBOX_URL, SANDBOX_TOKEN of a steward): the
    service checks your role, the dataset belongs to your bureau, and the audit
    log names you.
    """
    tags = _tags(tag)
    overrides = _pairs(override, "--override")
    keys = _public_keys(public_key, public_keys)
    bands = _bands(group_size_band)
    hierarchies = _hierarchies(hierarchy)

    def act(c: Client) -> dict[str, Any]:
        proposals = c.propose_tags(file)
        if not as_json:
            _show_proposals(proposals, tags)
        unknown = sorted(set(tags) - set(proposals))
        if unknown:
            raise InvalidRequest(
                f"--tag names columns the file lacks: {', '.join(unknown)}; its columns are "
                "listed above"
            )
        if not yes:
            _confirm(name)
        return c.ingest(
            file,
            name=name,
            source=source or f"file {file.name}",
            open_attribute=open_attribute.value,
            grade=grade.value,
            tags=tags,
            description=description,
            privacy_unit=privacy_unit,
            public_keys=keys,
            overrides=overrides,
            public_keys_confirm_reason=public_keys_confirm_reason,
            group_size_bands=bands or None,
            hierarchies=hierarchies or None,
        )

    dataset = _run(url, token, act)
    if as_json:
        R.dump(dataset)
        return
    R.say(
        f"dataset '{dataset['name']}' ingested: {dataset['row_count']} rows, "
        f"{len(dataset['columns'])} columns, {dataset['open_attribute']}, {dataset['grade']}"
    )


def _interactive() -> bool:
    """Whether a person can answer on stdin."""
    return sys.stdin.isatty()


def _confirm(name: str) -> None:
    """Ask at a terminal; without one, or on a no, exit 1 (a script passes --yes)."""
    if not _interactive():
        R.say(
            "error: nothing stored: no terminal to confirm on; re-run with --yes to accept "
            "the tags shown (--tag COLUMN=TAG changes one)",
            to_err=True,
        )
        raise typer.Exit(1)
    if not typer.confirm(f"Ingest '{R.safe(name)}' with these tags?", default=False):
        R.say("nothing stored", to_err=True)
        raise typer.Exit(1)


def expiry(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """When a grant ends: ``90d`` (days from now), a date (its end, China Standard Time) or
    an ISO date-time (China Standard Time unless it names a zone).

    >>> expiry("2027-06-30").isoformat()
    '2027-06-30T23:59:59+08:00'
    >>> expiry("2027-06-30T12:00+00:00").isoformat()
    '2027-06-30T12:00:00+00:00'
    >>> expiry("90d", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).isoformat()
    '2026-04-01T00:00:00+00:00'
    """
    text = text.strip()
    if days := _DAYS.fullmatch(text):
        return (now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=int(days[1]))
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time(23, 59, 59), CST)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            "write a number of days (90d), a date (2027-06-30) or a date and time "
            "(2027-06-30T18:00+08:00)",
            param_hint="--expires",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CST)


def _org_id(c: Client, org: str) -> int:
    """An organisation's id from its name (or the id itself)."""
    orgs = c.orgs()
    for o in orgs:
        if o["name"] == org:
            return int(o["id"])
    if org.isdecimal() and any(o["id"] == int(org) for o in orgs):
        return int(org)
    raise NotFound(
        "no such organisation: give its name or id (an admin lists them with "
        "`sandbox admin org list`)"
    )


def _listed(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def create_grant(
    org: Annotated[str, typer.Option("--org", help="The operator firm: name or id")],
    datasets: Annotated[
        str, typer.Option("--datasets", help="Dataset names, comma-separated (your bureau's)")
    ],
    purpose: Annotated[str, typer.Option("--purpose", help="What the firm may use them for")],
    kinds: Annotated[
        str,
        typer.Option("--kinds", help="Job kinds, comma-separated (aggregate, extract, …)"),
    ],
    epsilon: Annotated[float, typer.Option("--epsilon", help="Total ε the firm may spend")],
    expires: Annotated[
        str,
        typer.Option(
            "--expires",
            help="90d (days from now), a date (2027-06-30: its end, China Standard Time) "
            "or a date and time (2027-06-30T18:00; China Standard Time unless it names a zone)",
        ),
    ],
    delta: Annotated[float, typer.Option("--delta", help="Total δ (0: pure ε)")] = 0.0,
    min_cell: Annotated[
        int | None,
        typer.Option("--min-cell", help="Small-cell threshold (the grade's default if higher)"),
    ] = None,
    extract_k: Annotated[
        int | None,
        typer.Option("--extract-k", help="Smallest k of an extract (the grade's if higher)"),
    ] = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Grant an operator firm datasets for a purpose, job kinds and a budget (art. 34, 35).

    Runs through the API as you (SANDBOX_URL, SANDBOX_TOKEN of a steward of the
    datasets' bureau): the service checks that you may grant them, and the audit
    log names you.
    """
    body: dict[str, Any] = {
        "datasets": _listed(datasets),
        "purpose": purpose,
        "kinds": _listed(kinds),
        "epsilon": epsilon,
        "delta": delta,
        "expires_at": expiry(expires).isoformat(),
    }
    body |= {k: v for k, v in {"min_cell": min_cell, "extract_k": extract_k}.items() if v}

    def act(c: Client) -> dict[str, Any]:
        return c.create_grant(org_id=_org_id(c, org), **body)

    grant = _run(url, token, act)
    if as_json:
        R.dump(grant)
        return
    R.say(
        f"grant {grant['id']} to '{grant.get('org_name', org)}': "
        f"{', '.join(grant['datasets'])} for {', '.join(grant['kinds'])}, "
        f"ε {grant['epsilon_total']}, δ {grant['delta_total']}, expires {grant['expires_at']}"
    )


def register(datasets_app: typer.Typer, grants_app: typer.Typer) -> None:
    """Add ``ingest`` and ``hierarchy`` to ``sandbox datasets``, ``create`` to ``sandbox
    grants``."""
    datasets_app.command("ingest")(ingest)
    datasets_app.command("hierarchy")(store_hierarchy)
    grants_app.command("create")(create_grant)
