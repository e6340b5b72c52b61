"""What the service answers, shaped for notebooks: :class:`Estimate` and :class:`Budget`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sandbox.client import html as H


class DataView(Mapping[str, Any]):
    """A read-only mapping over a service answer kept in ``data`` (old dict call sites work)."""

    data: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@dataclass(frozen=True, eq=False)
class Estimate(DataView):
    """Cost and expected accuracy of a job before running it; spends nothing.

    Also a read-only mapping of the service's answer: ``epsilon``, ``delta``,
    ``aggregates`` (per aggregate ``expected_abs_error`` and ``ci_half_width``,
    95 %), ``group_size`` (rows per group the figures assume, and from where),
    ``warnings`` (cells likely to be suppressed), ``fits`` and ``cached_job_id``.
    """

    data: Mapping[str, Any] = field(repr=False)

    @property
    def epsilon(self) -> float:
        """ε the job would charge."""
        return float(self.data["epsilon"])

    @property
    def delta(self) -> float:
        """δ the job would charge."""
        return float(self.data.get("delta", 0.0))

    @property
    def fits(self) -> bool:
        """Whether the grant's budget left can pay for it."""
        return bool(self.data.get("fits", False))

    @property
    def cached_job_id(self) -> int | None:
        """An identical earlier job whose answer would be returned at no cost."""
        cached = self.data.get("cached_job_id")
        return int(cached) if cached is not None else None

    @property
    def group_size(self) -> Mapping[str, Any] | None:
        """Rows per group the figures assume: ``low``, ``high`` and ``source`` (``argument``,
        ``catalog``, ``table`` or ``default``); ``None`` for kinds without groups."""
        size = self.data.get("group_size")
        return dict(size) if size is not None else None

    @property
    def warnings(self) -> list[str]:
        """Cells likely to be suppressed (below the minimum cell size), Chinese then English."""
        return [str(w["message"]) for w in self.data.get("warnings") or ()]

    def to_polars(self) -> pl.DataFrame:
        """One row per aggregate with its expected absolute error and 95 % half-width."""
        rows = [dict(a) for a in self.data.get("aggregates", [])]
        return pl.DataFrame(rows) if rows else pl.DataFrame()

    def __repr__(self) -> str:
        return f"Estimate(epsilon={self.epsilon:g}, delta={self.delta:g}, fits={self.fits})"

    def _repr_html_(self) -> str:
        if self.cached_job_id is not None:
            note = f"job {self.cached_job_id} asked the same: its answer comes back at no cost"
        elif self.fits:
            note = "the grant can pay for it"
        else:
            note = "the grant's budget left cannot pay for it: lower epsilon or ask for more"
        items: dict[str, Any] = {"ε": self.epsilon, "δ": self.delta}
        size = self.group_size
        if size is not None:
            span = f"{size['low']:,}" + (
                f" – {size['high']:,}" if size["high"] != size["low"] else ""
            )
            items["rows per group"] = f"{span} ({size['source']})"
        head = H.fields("estimate", items, note)
        alerts = "".join(f"<p style='margin:4px 0'>⚠ {H.text(w)}</p>" for w in self.warnings)
        frame = self.to_polars()
        return head + alerts + (H.table(frame.to_dicts(), frame.columns) if frame.height else "")


_BUDGET_SCHEMA: dict[str, pl.DataType] = {
    "grant_id": pl.Int64(),
    "org": pl.String(),
    "datasets": pl.List(pl.String),
    "state": pl.String(),
    "epsilon_total": pl.Float64(),
    "epsilon_spent": pl.Float64(),
    "firm_epsilon_spent": pl.Float64(),
    "epsilon_left": pl.Float64(),
    "delta_total": pl.Float64(),
    "delta_spent": pl.Float64(),
    "delta_left": pl.Float64(),
    "commitment": pl.String(),
    "expires_at": pl.String(),
}
_BY_DATASET_SCHEMA: dict[str, pl.DataType] = {
    "grant_id": pl.Int64(),
    "dataset": pl.String(),
    "state": pl.String(),
    "period": pl.Int64(),
    "epsilon_total": pl.Float64(),
    "epsilon_spent": pl.Float64(),
    "firm_epsilon_spent": pl.Float64(),
    "epsilon_left": pl.Float64(),
    "delta_total": pl.Float64(),
    "delta_spent": pl.Float64(),
    "firm_delta_spent": pl.Float64(),
    "delta_left": pl.Float64(),
}


@dataclass(frozen=True)
class Budget:
    """ε and δ total, spent and left on every grant the caller can see.

    Budget is kept per firm × dataset across all the firm's grants: a grant
    may take its firm's spend on a dataset up to its own totals, so
    ``epsilon_left`` is the grant's total less what the firm spent there
    (``firm_epsilon_spent``), not less what this grant's jobs spent
    (``epsilon_spent``). :meth:`by_dataset` shows both per dataset.
    """

    grants: Sequence[Mapping[str, Any]]

    def to_polars(self) -> pl.DataFrame:
        """One row per grant (columns as in ``GET /v1/grants``, plus the firm's spend on the
        grant's most-used dataset and ``delta_left``)."""
        rows = [
            {
                "grant_id": g["id"],
                "org": g.get("org_name"),
                "datasets": list(g.get("datasets", [])),
                "state": g.get("state"),
                "epsilon_total": g["epsilon_total"],
                "epsilon_spent": g["epsilon_spent"],
                "firm_epsilon_spent": max(
                    (b["firm_epsilon_spent"] for b in g.get("budgets", [])),
                    default=g["epsilon_spent"],
                ),
                "epsilon_left": g["epsilon_left"],
                "delta_total": g["delta_total"],
                "delta_spent": g["delta_spent"],
                "delta_left": g.get("delta_left", max(0.0, g["delta_total"] - g["delta_spent"])),
                "commitment": commitment_state(g),
                "expires_at": str(g.get("expires_at", "")),
            }
            for g in self.grants
        ]
        return pl.DataFrame(rows, schema=_BUDGET_SCHEMA)

    def by_dataset(self) -> pl.DataFrame:
        """One row per grant × dataset: this grant's spend, the firm's under all its grants
        (what counts) and what the grant may still take, in the current budget period."""
        rows = [
            {
                "grant_id": g["id"],
                "dataset": b["dataset"],
                "state": g.get("state"),
                "period": b["period"],
                "epsilon_total": g["epsilon_total"],
                "epsilon_spent": b["epsilon_spent"],
                "firm_epsilon_spent": b["firm_epsilon_spent"],
                "epsilon_left": b["epsilon_left"],
                "delta_total": g["delta_total"],
                "delta_spent": b["delta_spent"],
                "firm_delta_spent": b["firm_delta_spent"],
                "delta_left": b["delta_left"],
            }
            for g in self.grants
            for b in g.get("budgets", [])
        ]
        return pl.DataFrame(rows, schema=_BY_DATASET_SCHEMA)

    def __len__(self) -> int:
        return len(self.grants)

    def __repr__(self) -> str:
        return repr(self.to_polars())

    def _repr_html_(self) -> str:
        frame = self.to_polars()
        detail = self.by_dataset()
        pending = "".join(
            H.fields(
                f"grant {g['id']}: commitment to accept (art. 34)",
                {"text": g.get("commitment_text", "")},
                f"client.accept_commitment({g['id']}) accepts it for your firm",
            )
            for g in self.grants
            if commitment_state(g) == PENDING
        )
        return (
            H.table(frame.to_dicts(), frame.columns, "privacy budget by grant")
            + H.table(
                detail.to_dicts(),
                detail.columns,
                "by dataset: this grant's spend and the firm's under all its grants",
            )
            + pending
        )


#: A grant's commitment (art. 34) the firm must still accept.
PENDING = "required, not accepted"


def commitment_state(grant: Mapping[str, Any]) -> str:
    """``accepted`` (with when), ``required, not accepted`` or ``not required``.

    >>> commitment_state({"commitment_required": True, "commitment_accepted": False})
    'required, not accepted'
    """
    if grant.get("commitment_accepted"):
        when = str(grant.get("commitment_accepted_at") or "")[:19]
        return f"accepted {when}".strip()
    return PENDING if grant.get("commitment_required") else "not required"
