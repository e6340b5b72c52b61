"""The :class:`Client` and the names :mod:`sandbox.client` exports (its docstring shows them).

The module is long because :class:`Client` is the one object an analyst holds: every
endpoint has a typed, documented method here, while queries, jobs, results, dry runs, models
and verification live in modules of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, overload

import httpx

from policies import errors as E
from sandbox.client import html as H
from sandbox.client.catalog import Dataset, Datasets
from sandbox.client.dryrun import LocalRun, dummy_inputs
from sandbox.client.dryrun import run as run_locally
from sandbox.client.job import Job, ReviewDecision
from sandbox.client.models import Model
from sandbox.client.output import Output, Table, suffix_of
from sandbox.client.query import (
    AggregateQuery,
    Cost,
    GroupedQuery,
    PrivateQuery,
    QueryBuilder,
    count,
    count_distinct,
    histogram,
    mean,
    median,
    quantile,
    sum_,
    variance,
)
from sandbox.client.results import Budget, Estimate

__all__ = [
    "AggregateQuery",
    "Budget",
    "Client",
    "Cost",
    "Dataset",
    "Datasets",
    "Estimate",
    "GroupedQuery",
    "Job",
    "LocalRun",
    "Model",
    "Output",
    "PrivateQuery",
    "QueryBuilder",
    "ReviewDecision",
    "Table",
    "count",
    "count_distinct",
    "histogram",
    "mean",
    "median",
    "quantile",
    "sum_",
    "variance",
]

#: A response without an error code (a proxy's, a gateway's) is read by its status alone.
_BY_STATUS: dict[int, type[E.SandboxError]] = {
    401: E.Unauthenticated,
    403: E.PolicyViolation,
    404: E.NotFound,
    409: E.Conflict,
    422: E.InvalidRequest,
    429: E.TooManyAttempts,
}


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
        code, message = body.get("error", ""), body.get("message", response.text)
        if body.get("problems"):
            message += ": " + "; ".join(
                f"{'.'.join(p['loc'])}: {p['msg']}" for p in body["problems"]
            )
    except (json.JSONDecodeError, AttributeError):
        code, message = "", response.text or response.reason_phrase
    # the class the service's code names, from the error tree itself (no list to keep up)
    cls = E.BY_CODE.get(code) or _BY_STATUS.get(response.status_code, E.InternalError)
    if cls is E.Unauthenticated:
        message += "; check SANDBOX_TOKEN (or the token given to Client) with your administrator"
    if cls is E.TooManyAttempts:
        wait = response.headers.get("Retry-After", "")  # seconds, or an HTTP date (a proxy's)
        raise E.TooManyAttempts(message, int(wait) if wait.isdigit() else 0)
    raise cls(message)


class Client:
    """A connection to a Data Sandbox service.

    Args:
        url: Service URL; default ``SANDBOX_URL``.
        token: API token; default ``SANDBOX_TOKEN``.
        timeout: Seconds per HTTP request.
        transport: An httpx transport (tests pass ``httpx.MockTransport``).

    Raises:
        InvalidRequest: No URL or token given or set in the environment.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = url or os.environ.get("SANDBOX_URL")
        token = token or os.environ.get("SANDBOX_TOKEN")
        missing = [n for n, v in (("SANDBOX_URL", url), ("SANDBOX_TOKEN", token)) if not v]
        if missing or not url or not token:
            raise E.InvalidRequest(
                f"no {' and no '.join(missing)}: pass Client(url, token) or set "
                "SANDBOX_URL (the service address) and SANDBOX_TOKEN (your API token)"
            )
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url + "/v1",
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise E.InternalError(
                f"cannot reach the service at {self.url} ({type(err).__name__}); "
                "check SANDBOX_URL and that the service is running"
            ) from err

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        _raise_for(response)
        return response.json()

    # -- everyone ---------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """The service's liveness answer (``GET /healthz``; no token needed)."""
        return dict(self._call("GET", self.url + "/healthz"))

    def status(self) -> dict[str, Any]:
        """Service status: database, Ray and job counts (``GET /v1/status``)."""
        return dict(self._call("GET", "/status"))

    def me(self) -> dict[str, Any]:
        """Who this token belongs to."""
        return dict(self._call("GET", "/me"))

    @property
    def datasets(self) -> Datasets:
        """The catalog: names, schemas, tags and row counts (never rows).

        ``client.datasets`` and ``client.datasets()`` are the same list.
        """
        return Datasets([Dataset(d, self) for d in self._call("GET", "/datasets")])

    def dataset(self, name: str) -> Dataset:
        """One dataset's metadata: ``.schema``, ``.tags``, ``.dummy(n)``, ``.query()``.

        Raises:
            NotFound: No such dataset; ``client.datasets`` lists them.
        """
        try:
            return Dataset(self._call("GET", f"/datasets/{name}"), self)
        except E.NotFound as err:
            raise E.NotFound(f"{err}; client.datasets lists the catalog") from err

    def grants(self) -> list[dict[str, Any]]:
        """Grants visible to the caller, with their budgets."""
        return list(self._call("GET", "/grants"))

    def grant(self, grant_id: int) -> dict[str, Any]:
        """One grant with its budget, kinds, limits and state."""
        return dict(self._call("GET", f"/grants/{grant_id}"))

    def grant_for(self, dataset: str, kind: str, grant: int | None = None) -> int:
        """The grant to charge for a ``kind`` job on ``dataset``.

        Args:
            dataset: The dataset's name.
            kind: A job kind's name (:data:`jobs.kinds.KINDS` lists them).
            grant: An explicit grant id (returned as is).

        Raises:
            PolicyViolation: No active grant covers the dataset for this kind.
            InvalidRequest: Several do; the message lists their ids.
        """
        if grant is not None:
            return grant
        fitting = [
            int(g["id"])
            for g in self.grants()
            if g["state"] == "active" and dataset in g["datasets"] and kind in g["kinds"]
        ]
        if not fitting:
            raise E.PolicyViolation(
                f"no active grant covers dataset '{dataset}' for {kind} jobs; ask the data "
                "bureau for one (client.grants() lists yours)"
            )
        if len(fitting) > 1:
            raise E.InvalidRequest(
                f"grants {', '.join(map(str, fitting))} all cover dataset '{dataset}' for "
                f"{kind} jobs; pass grant=<id> to choose"
            )
        return fitting[0]

    @overload
    def budget(self) -> Budget: ...
    @overload
    def budget(self, grant_id: int) -> dict[str, float]: ...
    def budget(self, grant_id: int | None = None) -> Budget | dict[str, float]:
        """ε and δ total, spent and left: of every visible grant, or of one as a dict.

        Budget is per firm × dataset across the firm's grants: ``epsilon_left`` is
        what the grant may still take after everything the firm spent on its
        datasets (``firm_epsilon_spent``); ``epsilon_spent`` is this grant's own.
        ``client.budget().by_dataset()`` shows each dataset.
        """
        if grant_id is None:
            return Budget(self.grants())
        g = self.grant(grant_id)
        figures = {
            k: g[k]
            for k in (
                "epsilon_total",
                "epsilon_spent",
                "epsilon_left",
                "delta_total",
                "delta_spent",
            )
        }
        if g.get("budgets"):
            figures["firm_epsilon_spent"] = max(b["firm_epsilon_spent"] for b in g["budgets"])
        return figures

    # -- operators --------------------------------------------------------
    def accept_commitment(self, grant_id: int) -> dict[str, Any]:
        """Accept the grant's data-use commitment for your firm (art. 34); idempotent, audited.

        Read it first: ``client.grant(grant_id)["commitment_text"]``. Jobs on the grant's
        conditionally open datasets run only once it is accepted.

        Raises:
            Conflict: The grant requires no commitment.
            NotFound: No such grant for your firm.
        """
        return dict(self._call("POST", f"/grants/{grant_id}/commitment"))

    def submit(self, grant_id: int, spec: Mapping[str, Any], purpose: str = "") -> Job:
        """Submit a job; ε is reserved now.

        Raises:
            BudgetExhausted: The grant cannot pay for it (nothing is charged).
            InvalidJobSpec: The spec is malformed or uses a forbidden column.
            PolicyViolation: The grant is suspended, expired or out of scope.
        """
        data = self._call(
            "POST", "/jobs", json={"grant_id": grant_id, "spec": dict(spec), "purpose": purpose}
        )
        return Job(self, data)

    def estimate(
        self,
        grant_id: int,
        spec: Mapping[str, Any],
        *,
        expected_group_size: int | None = None,
    ) -> Estimate:
        """Cost and expected accuracy of a job before running it; spends nothing.

        Args:
            grant_id: The grant the job would run under.
            spec: The job spec.
            expected_group_size: Rows you expect per group (means, variances, quantiles
                and small-cell warnings depend on it); ``None``: the data bureau's band
                from the catalog, the table's size for an ungrouped query, else 100.

        Returns:
            ``epsilon``, ``delta``, per aggregate ``expected_abs_error`` and
            ``ci_half_width`` (95 %), ``group_size`` assumed, ``warnings`` (cells likely
            suppressed), ``fits`` (the grant can pay for it) and ``cached_job_id`` (an
            identical earlier query, answered at no cost).
        """
        body: dict[str, Any] = {"grant_id": grant_id, "spec": dict(spec)}
        if expected_group_size is not None:
            body["expected_group_size"] = expected_group_size
        return Estimate(self._call("POST", "/jobs/estimate", json=body))

    def dry_run(
        self,
        spec: Mapping[str, Any],
        *,
        n: int = 1000,
        seed: int | None = None,
        frames: Mapping[str, Any] | None = None,
        timeout: float = 600.0,
    ) -> LocalRun:
        """Run ``spec`` on your machine on ``n`` dummy rows per dataset; spends nothing.

        Any kind (:mod:`sandbox.client.dryrun`): the numbers mean nothing, what comes out
        does. ``frames`` (by dataset) replaces the made-up rows; ``seed`` fixes them;
        ``timeout`` bounds a ``custom`` entry point.

        Raises:
            InvalidJobSpec: The spec is malformed or does not fit the datasets.
        """
        from jobs.kinds import parse_job_spec

        parsed = parse_job_spec(dict(spec))
        metadata = {name: dict(self.dataset(name).data) for name in parsed.datasets}
        rows = dict(frames) if frames is not None else dummy_inputs(parsed, metadata, n, seed)
        return run_locally(spec, metadata, rows, timeout=timeout)

    def job(self, job_id: int) -> Job:
        """A job by id."""
        return Job(self, self._call("GET", f"/jobs/{job_id}"))

    def jobs(self, status: str | None = None) -> list[Job]:
        """Recent jobs visible to the caller."""
        params = {"status": status} if status else {}
        return [Job(self, j) for j in self._call("GET", "/jobs", params=params)]

    # -- stewards and admins -----------------------------------------------
    def ingest(
        self,
        path: str | Path,
        *,
        name: str,
        source: str,
        open_attribute: str,
        grade: str,
        tags: Mapping[str, str] | None = None,
        description: str = "",
        privacy_unit: str | None = None,
        public_keys: Mapping[str, list[Any]] | None = None,
        overrides: Mapping[str, str] | None = None,
        public_keys_confirm_reason: str = "",
        group_size_bands: Mapping[str, Mapping[str, int]] | None = None,
        hierarchies: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Upload a CSV (UTF-8 or GB18030/GBK) or Parquet file into the catalog (steward).

        Columns left out of ``tags`` take the detectors' proposed tag; a tag
        less protective than the proposal needs ``overrides[column] = reason``.
        Declared ``public_keys`` that miss values of the data are refused unless
        ``public_keys_confirm_reason`` says why those rows may drop out (audited).
        ``group_size_bands`` tells operators' estimates how many rows a group holds,
        e.g. ``{"city": {"low": 200, "high": 2000}}`` (a key may join columns:
        ``"city,sex"``). ``hierarchies`` maps a quasi-identifier to its generalization
        hierarchy in ARX's CSV format (see :meth:`put_hierarchy`).
        """
        metadata = {
            "name": name,
            "source": source,
            "open_attribute": open_attribute,
            "grade": grade,
            "tags": dict(tags or {}),
            "description": description,
            "privacy_unit": privacy_unit,
            "public_keys": dict(public_keys or {}),
            "overrides": dict(overrides or {}),
            "public_keys_confirm_reason": public_keys_confirm_reason,
            "group_size_bands": {k: dict(v) for k, v in (group_size_bands or {}).items()},
            "hierarchies": dict(hierarchies or {}),
        }
        with Path(path).open("rb") as handle:
            return dict(
                self._call(
                    "POST",
                    "/datasets",
                    data={"metadata": json.dumps(metadata)},
                    files={"file": (Path(path).name, handle)},
                )
            )

    def put_hierarchy(
        self, dataset: str, column: str, csv: str, name: str | None = None
    ) -> dict[str, Any]:
        """Store a quasi-identifier's generalization hierarchy with the dataset (steward).

        ``csv`` is ARX's format, one line per value: ``value;level1;…;*``
        (``sandbox datasets ingest --hierarchy`` reads files saved by Excel). Extracts
        use it for the column unless their spec gives another, and a spec may name it:
        ``{"kind": "named", "name": name}`` (default name: the column's).
        """
        body = {"csv": csv, "name": name}
        return dict(self._call("PUT", f"/datasets/{dataset}/hierarchies/{column}", json=body))

    def hierarchies(self, dataset: str) -> list[dict[str, Any]]:
        """The dataset's stored hierarchies: column, name, levels (never their lines)."""
        return list(self._call("GET", f"/datasets/{dataset}/hierarchies"))

    def delete_hierarchy(self, dataset: str, column: str) -> None:
        """Delete the hierarchy stored for a column (steward)."""
        _raise_for(self._send("DELETE", f"/datasets/{dataset}/hierarchies/{column}"))

    def propose_tags(self, path: str | Path) -> dict[str, Any]:
        """Proposed tags for a file's columns, with evidence; nothing is stored (steward)."""
        with Path(path).open("rb") as handle:
            return dict(
                self._call("POST", "/datasets/propose", files={"file": (Path(path).name, handle)})
            )

    def create_grant(self, **fields: Any) -> dict[str, Any]:
        """Create a grant (steward); fields as in the API's ``GrantCreate``."""
        if "expires_at" in fields and not isinstance(fields["expires_at"], str):
            fields["expires_at"] = fields["expires_at"].isoformat()
        return dict(self._call("POST", "/grants", json=fields))

    def set_grant_state(self, grant_id: int, action: str, reason: str) -> dict[str, Any]:
        """``suspend``, ``reinstate`` or ``terminate`` a grant (steward)."""
        return dict(self._call("POST", f"/grants/{grant_id}/{action}", json={"reason": reason}))

    def start_budget_period(self, org_id: int, dataset: str, reason: str) -> dict[str, Any]:
        """Start a new budget period for a firm on a dataset (steward; audited).

        The firm's earlier charges on the dataset stop counting against its grants.
        """
        body = {"org_id": org_id, "dataset": dataset, "reason": reason}
        return dict(self._call("POST", "/budgets/periods", json=body))

    def review(self, job_id: int, decision: str, reason: str, override_reason: str = "") -> Job:
        """``approve``, ``reject`` or ``return`` (for changes) a quarantined output (steward).

        A rejection or a return closes the job without release; the operator reads the
        reason as the job's :attr:`Job.decision`.

        Args:
            job_id: The job whose output is reviewed.
            decision: ``approve``, ``reject`` or ``return``.
            reason: Why (shown to the operator, recorded in the audit log); at least
                two characters.
            override_reason: Why failing automatic checks do not matter here;
                needed to approve over them, audited and listed in the manifest.

        Raises:
            Conflict: Checks fail and no override reason was given.
        """
        body = {"decision": decision, "reason": reason, "override_reason": override_reason}
        return Job(self, self._call("POST", f"/jobs/{job_id}/review", json=body))

    def create_org(self, name: str, kind: str) -> dict[str, Any]:
        """Create an organisation (admin)."""
        return dict(self._call("POST", "/orgs", json={"name": name, "kind": kind}))

    def create_user(self, name: str, role: str, org_id: int) -> dict[str, Any]:
        """Create a user (admin); the answer holds their token, shown once."""
        return dict(
            self._call("POST", "/users", json={"name": name, "role": role, "org_id": org_id})
        )

    def orgs(self) -> list[dict[str, Any]]:
        """Organisations: id, name and kind (admin, steward)."""
        return list(self._call("GET", "/orgs"))

    def audit_verify(self) -> dict[str, Any]:
        """Walk the audit hash chain (auditor, admin, steward)."""
        return dict(self._call("GET", "/audit/verify"))

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def _repr_html_(self) -> str:
        try:
            me = self.me()
            who = {"user": me["name"], "role": me["role"], "organisation": me["org_name"]}
        except E.SandboxError as err:
            who = {"error": str(err)}
        return H.fields("Data Sandbox", {"service": self.url} | who)

    def _export(self, job_id: int) -> tuple[bytes, str]:
        """A trading-venue package (``POST /v1/jobs/{id}/export``), its SHA-256 checked."""
        response = self._send("POST", f"/jobs/{job_id}/export")
        _raise_for(response)
        expected = response.headers.get("X-Content-SHA256", "")
        if hashlib.sha256(response.content).hexdigest() != expected:
            raise E.InternalError("the package does not match its SHA-256; export again")
        return response.content, expected

    def _download(self, job_id: int, kind: str = "") -> Output:
        response = self._send("GET", f"/jobs/{job_id}/output")
        _raise_for(response)
        expected = response.headers.get("X-Content-SHA256", "")
        if hashlib.sha256(response.content).hexdigest() != expected:
            raise E.InternalError("the download does not match its SHA-256; try again")
        suffix = suffix_of(response.headers.get("Content-Disposition", ""), kind)
        return Output(job_id, suffix, response.content, expected)
