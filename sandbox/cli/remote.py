"""Service commands: status, datasets, jobs, review, grants, budget and download.

Each talks to a running service over HTTP through :class:`sandbox.client.Client`
(``--url`` / ``--token`` or ``SANDBOX_URL`` / ``SANDBOX_TOKEN``), prints rich
tables, and prints JSON with ``--json`` for scripts. A refused request
prints the service's message, which says what to do next, and exits 1.

The module is long because every command spells out its options, help text and table
columns for people at a shell; what they do is the client's (:mod:`sandbox.client`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.live import Live
from rich.progress_bar import ProgressBar
from typer.core import TyperGroup

from policies.errors import PolicyViolation, SandboxError
from sandbox.cli import render as R
from sandbox.client import Client, Job

T = TypeVar("T")

Url = Annotated[
    str | None, typer.Option("--url", envvar="SANDBOX_URL", help="Service URL", show_default=False)
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="SANDBOX_TOKEN", help="API token", show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log)")]

review_app = typer.Typer(help="Review quarantined outputs (stewards).", no_args_is_help=True)
grants_app = typer.Typer(help="Grants and their states (art. 76).", no_args_is_help=True)

_JOB_COLUMNS = {
    "id": "id",
    "kind": "kind",
    "status": "status",
    "grant_id": "grant",
    "epsilon": "ε",
    "delta": "δ",
    "created_at": "created",
    "purpose": "purpose",
}
_GRANT_COLUMNS = {
    "id": "id",
    "org_name": "organisation",
    "datasets": "datasets",
    "kinds": "kinds",
    "state": "state",
    "epsilon_left": "ε left",
    "commitment_accepted": "commitment accepted",
    "expires_at": "expires",
}
_ACTIVE = frozenset({"queued", "running"})
#: The data bureau's decision, as a job's table shows it (``decision`` is the service's).
_DECISION_FIELDS = {
    "state": "decision",
    "reason": "reason",
    "organisation": "decided by",
    "decided_at": "decided at",
}


def _run(url: str | None, token: str | None, action: Callable[[Client], T]) -> T:
    """Open a client, run ``action``, close; a service error prints and exits 1."""
    try:
        with Client(url, token) as client:
            return action(client)
    except SandboxError as error:
        R.fail(error)


def status(url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """Service health, who you are, database and Ray, and the audit chain."""

    def gather(c: Client) -> dict[str, Any]:
        report: dict[str, Any] = {"url": c.url, "health": c.health(), "me": c.me()}
        report["service"] = c.status()
        try:
            report["audit"] = c.audit_verify()
        except PolicyViolation:
            report["audit"] = None  # operators do not read the audit log
        return report

    report = _run(url, token, gather)
    if as_json:
        R.dump(report)
        return
    me, service, audit = report["me"], report["service"], report["audit"]
    db, ray = service["database"], service["ray"]
    rows: dict[str, Any] = {
        "service": f"{report['url']} ({report['health'].get('status')}, {service['version']})",
        "you": f"{me['name']} ({me['role']}, {me['org_name']})",
        "database": f"{db['dialect']}: {'ok' if db['ok'] else 'UNREACHABLE'}",
        "ray": f"{ray['mode']}: {'connected' if ray['connected'] else 'not connected yet'}",
        "jobs": ", ".join(f"{n} {s}" for s, n in sorted(service["jobs"].items())) or "none",
        "audit chain": "not visible to your role"
        if audit is None
        else (
            f"holds ({audit['entries']} entries)"
            if audit["ok"]
            else f"BROKEN at entry {audit['broken_at']}: {audit['reason']}"
        ),
    }
    R.fields("Data Sandbox", rows)
    if audit is not None and not audit["ok"]:
        raise typer.Exit(1)


def _rows(count: int, exact: bool) -> str:
    """A row count as shown: exact (stewards, auditors) or the public one, marked ``~``."""
    return str(count) if exact else f"~{count}"


class _DatasetsGroup(TyperGroup):
    """``sandbox datasets NAME`` still shows a dataset (``datasets show NAME``): a first word
    that names no command is a dataset's name."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["show", *args]
        return super().parse_args(ctx, args)


datasets_app = typer.Typer(
    cls=_DatasetsGroup,
    invoke_without_command=True,
    help="The catalog: `sandbox datasets` lists it, `sandbox datasets NAME` shows one "
    "dataset's columns; stewards ingest with `sandbox datasets ingest FILE`.",
)


@datasets_app.callback()
def datasets(
    ctx: typer.Context,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """The catalog (metadata only; no route returns a row)."""
    if ctx.invoked_subcommand is None:
        datasets_list(url, token, as_json)


@datasets_app.command("list")
def datasets_list(url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """The catalog: names, row counts, open attribute, grade (metadata only)."""
    found = _run(url, token, lambda c: [dict(d) for d in c.datasets])
    for d in found:
        d["column_count"] = len(d["columns"])
        exact = d.get("row_count") is not None
        d["rows"] = _rows(d["row_count"] if exact else d.get("public_row_count", 0), exact)
    R.listing(
        "datasets",
        found,
        {
            "name": "name",
            "rows": "rows",
            "column_count": "columns",
            "open_attribute": "open",
            "grade": "grade",
            "privacy_unit": "privacy unit",
            "description": "description",
        },
        as_json,
    )


@datasets_app.command("show")
def datasets_show(
    name: Annotated[str, typer.Argument(help="The dataset's name")],
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """One dataset's columns, tags and public keys."""
    ds = _run(url, token, lambda c: c.dataset(name))
    if as_json:
        R.dump(dict(ds))
        return
    keys = ds.public_keys
    R.listing(
        f"{ds.name}: {_rows(ds.row_count, ds.row_count_is_exact)} rows, "
        f"privacy unit {ds.privacy_unit or 'the row'}",
        [
            {
                "name": c.name,
                "dtype": c.dtype,
                "tag": c.tag.value,
                "keys": len(keys.get(c.name, [])) or None,
            }
            for c in ds.columns
        ],
        {"name": "column", "dtype": "dtype", "tag": "tag", "keys": "public keys"},
        False,
    )


def _decided_text(job: dict[str, Any]) -> str | None:
    """A job's decision in one line for a table: ``return (市数据局): 请按区县汇总``."""
    decision = job.get("decision")
    if not isinstance(decision, dict):
        return None
    return f"{decision['state']} ({decision['organisation']}): {decision['reason']}"


def _show_job(data: dict[str, Any]) -> None:
    """One job's fields, then the data bureau's decision when it has one."""
    R.fields(f"job {data['id']}", {k: data.get(k) for k in (*_JOB_COLUMNS, "error")})
    decision = data.get("decision")
    if isinstance(decision, dict):
        R.fields("decision", {h: decision.get(k) for k, h in _DECISION_FIELDS.items()})


def jobs(
    job_id: Annotated[
        int | None,
        typer.Argument(help="Show this job, with the data bureau's decision and its reason"),
    ] = None,
    status_: Annotated[
        str | None, typer.Option("--status", help="Only jobs in this status")
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Refresh until no listed job is queued or running")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes", min=0.1)] = 2.0,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Recent jobs (an operator sees its organisation's), or one job (its id), each with the
    data bureau's decision once it decided: released, rejected or returned for changes."""
    if watch and as_json:
        raise typer.BadParameter("--watch refreshes a table; use --json without it")
    if job_id is not None:
        if watch or status_ is not None:
            raise typer.BadParameter("--watch and --status list jobs; give no job id with them")
        data = _run(url, token, lambda c: c.job(job_id).data)
        if as_json:
            R.dump(data)
        else:
            _show_job(data)
        return

    def fetch(c: Client) -> list[dict[str, Any]]:
        return [j.data for j in c.jobs(status_)]

    if not watch:
        found = _run(url, token, fetch)
        if not as_json:
            found = [j | {"decided": _decided_text(j)} for j in found]
        R.listing("jobs", found, _JOB_COLUMNS | {"decided": "decision"}, as_json)
        return

    def view(items: list[dict[str, Any]]) -> Any:
        rows = [[i.get(k) for k in _JOB_COLUMNS] for i in items]
        return R.table(f"jobs (every {interval:g} s)", list(_JOB_COLUMNS.values()), rows)

    def loop(c: Client) -> None:
        items = fetch(c)
        with Live(view(items), console=R.out, auto_refresh=False) as live:
            while any(i["status"] in _ACTIVE for i in items):
                time.sleep(interval)
                items = fetch(c)
                live.update(view(items), refresh=True)

    try:
        _run(url, token, loop)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


@review_app.command("list")
def review_list(url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """Outputs awaiting review."""
    items = _run(url, token, lambda c: [j.data for j in c.jobs("awaiting_review")])
    R.listing("outputs awaiting review", items, _JOB_COLUMNS, as_json)


@review_app.command("show")
def review_show(
    job_id: Annotated[int, typer.Argument(help="Job id")],
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """One job with its automatic disclosure checks."""
    data = _run(url, token, lambda c: c.job(job_id).data)
    if as_json:
        R.dump(data)
        return
    report = data.get("report") or {}
    _show_job(data)
    checks = report.get("checks") or []
    R.listing(
        "disclosure checks",
        checks,
        {"name": "check", "verdict": "verdict", "reason": "reason"},
        False,
    )


def _decided(job: Job, as_json: bool) -> None:
    if as_json:
        R.dump(job.data)
    else:
        R.say(f"job {job.id}: {job.status}")


#: A review's reason: the operator reads it with the decision.
ReviewReason = Annotated[
    str,
    typer.Option(
        "--reason",
        help="Why (the operator reads it; recorded in the audit log); 2 characters or more",
    ),
]


@review_app.command("approve")
def review_approve(
    job_id: Annotated[int, typer.Argument(help="Job id")],
    reason: ReviewReason,
    override_reason: Annotated[
        str,
        typer.Option(
            "--override-reason",
            help="Why failing automatic checks do not matter here (audited; in the manifest)",
        ),
    ] = "",
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Approve a quarantined output (steward); failing checks need --override-reason."""
    _decided(
        _run(url, token, lambda c: c.review(job_id, "approve", reason, override_reason)), as_json
    )


@review_app.command("reject")
def review_reject(
    job_id: Annotated[int, typer.Argument(help="Job id")],
    reason: ReviewReason,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Reject a quarantined output (steward)."""
    _decided(_run(url, token, lambda c: c.review(job_id, "reject", reason)), as_json)


@review_app.command("return")
def review_return(
    job_id: Annotated[int, typer.Argument(help="Job id")],
    reason: ReviewReason,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Return a quarantined output for changes (steward): the job closes without release
    and the operator reads your reason (what to change) as the decision."""
    _decided(_run(url, token, lambda c: c.review(job_id, "return", reason)), as_json)


def download(
    job_id: Annotated[int, typer.Argument(help="Job id")],
    to: Annotated[
        Path | None,
        typer.Option("--to", help="A folder, or a file path; default the current folder"),
    ] = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Save a released output (any kind: table, model or zip), its SHA-256 checked."""
    written = _run(url, token, lambda c: c.job(job_id).download(to))
    R.say(f"job {job_id}: wrote {written}")


@grants_app.command("list")
def grants_list(url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """Grants you can see (an operator sees its organisation's)."""
    R.listing("grants", _run(url, token, lambda c: c.grants()), _GRANT_COLUMNS, as_json)


@grants_app.command("show")
def grants_show(
    grant_id: Annotated[int, typer.Argument(help="Grant id")],
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """One grant with its budget and limits."""
    grant = _run(url, token, lambda c: c.grant(grant_id))
    if as_json:
        R.dump(grant)
    else:
        R.fields(f"grant {grant_id}", grant)


@grants_app.command("accept-commitment")
def grants_accept_commitment(
    grant_id: Annotated[int, typer.Argument(help="Grant id")],
    yes: Annotated[bool, typer.Option("--yes", help="Accept without asking")] = False,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Accept the grant's data-use commitment for your firm (operators; art. 34; audited)."""

    def accept(client: Client) -> dict[str, Any]:
        grant = client.grant(grant_id)
        if grant.get("commitment_text"):
            R.say(grant["commitment_text"], to_err=as_json)  # JSON alone on stdout
        if not yes and not grant.get("commitment_accepted"):
            typer.confirm("接受此承诺？/ Accept this commitment?", abort=True)
        return client.accept_commitment(grant_id)

    grant = _run(url, token, accept)
    if as_json:
        R.dump(grant)
    else:
        R.say(
            f"grant {grant_id}: commitment accepted at {grant['commitment_accepted_at']} "
            f"(user {grant['commitment_accepted_by']})"
        )


def _transition(action: str) -> Callable[..., None]:
    def command(
        grant_id: Annotated[int, typer.Argument(help="Grant id")],
        reason: Reason,
        url: Url = None,
        token: Token = None,
        as_json: AsJson = False,
    ) -> None:
        grant = _run(url, token, lambda c: c.set_grant_state(grant_id, action, reason))
        if as_json:
            R.dump(grant)
        else:
            R.say(f"grant {grant['id']}: {grant['state']}")

    command.__doc__ = {
        "suspend": "Suspend a grant: it accepts no new jobs (art. 76).",
        "reinstate": "Reinstate a suspended grant.",
        "terminate": "End a grant for good (art. 76).",
    }[action]
    return command


for _action in ("suspend", "reinstate", "terminate"):
    grants_app.command(_action)(_transition(_action))


@grants_app.command("new-period")
def grants_new_period(
    org_id: Annotated[int, typer.Argument(help="Operator organisation id")],
    dataset: Annotated[str, typer.Argument(help="Dataset name")],
    reason: Reason,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Start a new budget period for a firm on a dataset: its earlier charges stop counting."""
    period = _run(url, token, lambda c: c.start_budget_period(org_id, dataset, reason))
    if as_json:
        R.dump(period)
    else:
        R.say(f"organisation {org_id} on {dataset}: budget period {period['period']}")


def budget(url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """ε and δ per grant and dataset: the grant's own spend, the firm's under all its grants."""
    frame = _run(url, token, lambda c: c.budget().by_dataset())
    rows = frame.to_dicts()
    if as_json:
        R.dump(rows)
        return
    if not rows:
        R.out.print("no grants")
        return
    table = R.table(
        "privacy budget (the firm's spend on a dataset counts against each of its grants)",
        [
            "grant",
            "dataset",
            "state",
            "period",
            "ε used by the firm",
            "ε spent (grant)",
            "ε spent (firm)",
            "ε left",
            "ε total",
            "δ spent (firm)",
            "δ total",
        ],
        [
            [
                r["grant_id"],
                r["dataset"],
                r["state"],
                r["period"],
                ProgressBar(
                    total=r["epsilon_total"] or 1.0, completed=r["firm_epsilon_spent"], width=20
                ),
                r["epsilon_spent"],
                r["firm_epsilon_spent"],
                r["epsilon_left"],
                r["epsilon_total"],
                r["firm_delta_spent"],
                r["delta_total"],
            ]
            for r in rows
        ],
    )
    R.out.print(table)


def register(app: typer.Typer) -> None:
    """Add the service commands to the ``sandbox`` app."""
    app.command()(status)
    app.add_typer(datasets_app, name="datasets")
    app.command()(jobs)
    app.command()(budget)
    app.command()(download)
    app.add_typer(review_app, name="review")
    app.add_typer(grants_app, name="grants")
