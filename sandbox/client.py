"""Python client for analysts (Jupyter) and scripts; imports no server dependency.

>>> from sandbox.client import Client                      # doctest: +SKIP
>>> c = Client("http://127.0.0.1:8000", token="sbx_...")   # doctest: +SKIP
>>> job = c.submit(grant_id=1, spec={...}, purpose="...")  # doctest: +SKIP
>>> job.wait().result()                                    # doctest: +SKIP

Errors raised are the service's error tree (:mod:`policies.errors`): a
``BudgetExhausted`` on the server is a ``BudgetExhausted`` here, with the
server's message, which says what to do next.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from policies import errors as E

_BY_STATUS: dict[int, type[E.SandboxError]] = {
    401: E.Unauthenticated,
    403: E.PolicyViolation,
    404: E.NotFound,
    409: E.Conflict,
    422: E.InvalidRequest,
}
_BY_CODE: dict[str, type[E.SandboxError]] = {
    cls.code: cls
    for cls in (
        E.Unauthenticated,
        E.PolicyViolation,
        E.NotFound,
        E.Conflict,
        E.BudgetExhausted,
        E.InvalidJobSpec,
        E.InvalidRequest,
        E.JobFailed,
        E.InternalError,
    )
}
_FINAL = frozenset({"awaiting_review", "released", "rejected", "failed"})


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
    cls = _BY_CODE.get(code) or _BY_STATUS.get(response.status_code, E.InternalError)
    raise cls(message)


class Client:
    """A connection to a Data Sandbox service.

    Args:
        url: Service URL; default ``SANDBOX_URL``.
        token: API token; default ``SANDBOX_TOKEN``.
        timeout: Seconds per HTTP request.

    Raises:
        InvalidRequest: No URL or token given or set in the environment.
    """

    def __init__(
        self, url: str | None = None, token: str | None = None, timeout: float = 60.0
    ) -> None:
        url = url or os.environ.get("SANDBOX_URL")
        token = token or os.environ.get("SANDBOX_TOKEN")
        if not url or not token:
            raise E.InvalidRequest("pass Client(url, token) or set SANDBOX_URL and SANDBOX_TOKEN")
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url + "/v1", timeout=timeout, headers={"Authorization": f"Bearer {token}"}
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        _raise_for(response)
        return response.json()

    # -- everyone ---------------------------------------------------------
    def me(self) -> dict[str, Any]:
        """Who this token belongs to."""
        return dict(self._call("GET", "/me"))

    def datasets(self) -> list[dict[str, Any]]:
        """The catalog: names, schemas, tags and row counts (never rows)."""
        return list(self._call("GET", "/datasets"))

    def grants(self) -> list[dict[str, Any]]:
        """Grants visible to the caller, with their budgets."""
        return list(self._call("GET", "/grants"))

    def budget(self, grant_id: int) -> dict[str, float]:
        """ε and δ total, spent and left on a grant."""
        g = self._call("GET", f"/grants/{grant_id}")
        return {
            k: g[k]
            for k in (
                "epsilon_total",
                "epsilon_spent",
                "epsilon_left",
                "delta_total",
                "delta_spent",
            )
        }

    # -- operators --------------------------------------------------------
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

    def estimate(self, grant_id: int, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Cost and expected accuracy of a job before running it; spends nothing.

        Returns:
            ``epsilon``, ``delta``, per aggregate ``expected_abs_error`` and
            ``ci_half_width`` (95 %), ``fits`` (the grant can pay for it) and
            ``cached_job_id`` (an identical earlier query, answered at no cost).
        """
        return dict(
            self._call("POST", "/jobs/estimate", json={"grant_id": grant_id, "spec": dict(spec)})
        )

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
    ) -> dict[str, Any]:
        """Upload a CSV or Parquet file into the catalog (steward).

        Columns left out of ``tags`` take the detectors' proposed tag; a tag
        less protective than the proposal needs ``overrides[column] = reason``.
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

    def review(self, job_id: int, decision: str, reason: str) -> Job:
        """``approve`` or ``reject`` a quarantined output (steward)."""
        return Job(
            self,
            self._call(
                "POST", f"/jobs/{job_id}/review", json={"decision": decision, "reason": reason}
            ),
        )

    def create_org(self, name: str, kind: str) -> dict[str, Any]:
        """Create an organisation (admin)."""
        return dict(self._call("POST", "/orgs", json={"name": name, "kind": kind}))

    def create_user(self, name: str, role: str, org_id: int) -> dict[str, Any]:
        """Create a user (admin); the answer holds their token, shown once."""
        return dict(
            self._call("POST", "/users", json={"name": name, "role": role, "org_id": org_id})
        )

    def audit_verify(self) -> dict[str, Any]:
        """Walk the audit hash chain (auditor, admin, steward)."""
        return dict(self._call("GET", "/audit/verify"))

    def _download(self, job_id: int) -> bytes:
        response = self._http.get(f"/jobs/{job_id}/output")
        _raise_for(response)
        expected = response.headers.get("X-Content-SHA256", "")
        if hashlib.sha256(response.content).hexdigest() != expected:
            raise E.InternalError("the download does not match its SHA-256; try again")
        return response.content


@dataclass
class Job:
    """A submitted job; :meth:`wait` then :meth:`result`."""

    client: Client
    data: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def status(self) -> str:
        return str(self.data["status"])

    def refresh(self) -> Job:
        """Fetch the current state."""
        self.data = self.client._call("GET", f"/jobs/{self.id}")
        return self

    def wait(self, timeout: float = 600.0, poll: float = 0.5) -> Job:
        """Block until the job is out of the queue and Ray (awaiting review or later).

        Raises:
            JobFailed: The job failed; the message says why without data values.
            TimeoutError: Still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while self.refresh().status not in _FINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {self.id} is still {self.status} after {timeout:g} s")
            time.sleep(poll)
        if self.status == "failed":
            raise E.JobFailed(f"job {self.id} failed: {self.data.get('error', '')}")
        return self

    def wait_released(self, timeout: float = 3600.0, poll: float = 2.0) -> Job:
        """Block until the data bureau has decided.

        Raises:
            PolicyViolation: The output was rejected.
        """
        deadline = time.monotonic() + timeout
        while self.wait(timeout, poll).status == "awaiting_review":
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {self.id} is still awaiting review")
            time.sleep(poll)
        if self.status == "rejected":
            raise E.PolicyViolation(f"job {self.id} was rejected by the data bureau")
        return self

    def result(self) -> pl.DataFrame:
        """The released table.

        Raises:
            PolicyViolation: Not released yet (only released products leave).
        """
        return pl.read_parquet(io.BytesIO(self.client._download(self.id)))

    def manifest(self) -> dict[str, Any]:
        """The signed release manifest."""
        return dict(self.client._call("GET", f"/jobs/{self.id}/manifest"))

    def __repr__(self) -> str:
        return f"Job(id={self.id}, status={self.status!r})"
