"""The catalog as the client shows it: :class:`Datasets` and :class:`Dataset`.

Metadata only (schema, tags, declared public keys, row counts): no route
returns a row, and :meth:`Dataset.dummy` makes rows up from this metadata.
An operator sees the public row count (noisy, rounded, drawn once at ingest),
never the exact one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import polars as pl

from policies.catalog import ColumnTag
from policies.errors import NotFound
from sandbox.client import html as H
from sandbox.client.dummy import dummy_frame
from sandbox.client.protocols import Service
from sandbox.client.query import QueryBuilder
from sandbox.client.results import DataView
from sandbox.client.schema import Column


@dataclass(frozen=True, eq=False)
class Dataset(DataView):
    """One catalog entry; also a read-only mapping of its metadata (``ds["row_count"]``).

    Attributes:
        data: The catalog's JSON for the dataset.
        client: The connection it came from (for queries): a :class:`sandbox.client.Client`.
    """

    data: Mapping[str, Any] = field(repr=False)
    client: Service = field(repr=False)

    @property
    def name(self) -> str:
        """The dataset's name (what specs and grants refer to)."""
        return str(self.data["name"])

    @property
    def row_count(self) -> int:
        """Rows stored, as the caller may know them: exact for stewards and auditors, the
        public count (:attr:`public_row_count`) for operators and admins."""
        exact = self.data.get("row_count")
        return int(exact) if exact is not None else self.public_row_count

    @property
    def public_row_count(self) -> int:
        """The public row count: exact count plus discrete Laplace noise (ε = 0.1), rounded
        to two significant figures, drawn once at ingest."""
        return int(self.data.get("public_row_count") or 0)

    @property
    def row_count_is_exact(self) -> bool:
        """Whether :attr:`row_count` is the exact count (stewards and auditors)."""
        return self.data.get("row_count") is not None

    @property
    def privacy_unit(self) -> str | None:
        """The column identifying a person, or ``None`` when every row is one person."""
        unit = self.data.get("privacy_unit")
        return str(unit) if unit else None

    @property
    def public_keys(self) -> dict[str, list[Any]]:
        """Declared public group-key domains ``{column: [values]}`` (public by declaration)."""
        return {str(k): list(v) for k, v in (self.data.get("public_keys") or {}).items()}

    @property
    def group_size_bands(self) -> dict[str, dict[str, int]]:
        """Rows the data bureau expects per group, for estimates: ``{"city": {"low": 200,
        "high": 2000}}`` (a key may join columns: ``"city,sex"``); ``{}``: none declared."""
        bands = self.data.get("group_size_bands") or {}
        return {str(k): {"low": int(v["low"]), "high": int(v["high"])} for k, v in bands.items()}

    @property
    def columns(self) -> tuple[Column, ...]:
        """The columns, in order."""
        return tuple(
            Column(str(c["name"]), str(c["dtype"]), ColumnTag(c["tag"]))
            for c in self.data["columns"]
        )

    @property
    def columns_by_name(self) -> dict[str, Column]:
        """The columns by name."""
        return {c.name: c for c in self.columns}

    @property
    def schema(self) -> pl.Schema:
        """The polars schema of the stored table (and of :meth:`dummy`)."""
        return pl.Schema({c.name: c.polars_dtype for c in self.columns})

    @property
    def tags(self) -> dict[str, ColumnTag]:
        """Each column's tag: what a query may do with it (art. 37)."""
        return {c.name: c.tag for c in self.columns}

    def dummy(self, n: int = 100, seed: int | None = None) -> pl.DataFrame:
        """``n`` made-up rows with this schema, to develop code before submitting.

        Generated here from the metadata alone (types, tags, column names,
        declared key domains): nothing is read from the data and no budget is
        spent. Identifiers look real (valid check characters) but are invented.

        Args:
            n: Rows to make.
            seed: Fixes the rows for reproducible notebooks.
        """
        return dummy_frame(self.columns, n, public_keys=self.public_keys, seed=seed)

    def query(self) -> QueryBuilder:
        """Start a query on this dataset: ``.filter(...)``, ``.group_by(...)``, ``.agg(...)``."""
        return QueryBuilder(self)

    def __repr__(self) -> str:
        rows = self.row_count if self.row_count_is_exact else f"~{self.row_count}"
        return f"Dataset({self.name!r}, rows={rows}, columns={len(self.columns)})"

    def _repr_html_(self) -> str:
        rows = [
            {
                "column": c.name,
                "dtype": c.dtype,
                "tag": c.tag.value,
                "public keys": len(self.public_keys.get(c.name, [])) or None,
            }
            for c in self.columns
        ]
        head = H.fields(
            f"dataset {self.name}",
            {
                "description": self.data.get("description", ""),
                "rows": self.row_count if self.row_count_is_exact else f"about {self.row_count}",
                "open attribute": self.data.get("open_attribute"),
                "grade": self.data.get("grade"),
                "privacy unit": self.privacy_unit,
                "rows per group": "; ".join(
                    f"{k}: {b['low']:,} – {b['high']:,}" for k, b in self.group_size_bands.items()
                )
                or None,
            },
        )
        return head + H.table(rows, ["column", "dtype", "tag", "public keys"])


class Datasets(Sequence[Dataset]):
    """The catalog: a list of :class:`Dataset`; ``datasets["name"]`` finds one by name.

    Calling it returns itself, so ``client.datasets()`` and ``client.datasets``
    both work.
    """

    def __init__(self, items: Sequence[Dataset]) -> None:
        self._items = tuple(items)

    def __call__(self) -> Datasets:
        return self

    @overload
    def __getitem__(self, index: int) -> Dataset: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Dataset]: ...
    @overload
    def __getitem__(self, index: str) -> Dataset: ...
    def __getitem__(self, index: int | slice | str) -> Dataset | Sequence[Dataset]:
        if isinstance(index, str):
            for d in self._items:
                if d.name == index:
                    return d
            raise NotFound(
                f"no dataset '{index}' in the catalog; available: {', '.join(self.names) or 'none'}"
            )
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def names(self) -> list[str]:
        """The datasets' names."""
        return [d.name for d in self._items]

    def to_polars(self) -> pl.DataFrame:
        """One row per dataset: name, rows, columns, open attribute, grade, description."""
        return pl.DataFrame(
            [self._row(d) for d in self._items],
            schema={
                "name": pl.String,
                "rows": pl.Int64,
                "columns": pl.Int64,
                "open_attribute": pl.String,
                "grade": pl.String,
                "description": pl.String,
            },
            orient="row",
        )

    @staticmethod
    def _row(d: Dataset) -> tuple[Any, ...]:
        return (
            d.name,
            d.row_count,
            len(d.columns),
            d.get("open_attribute"),
            d.get("grade"),
            d.get("description", ""),
        )

    def __repr__(self) -> str:
        return f"Datasets({self.names})"

    def _repr_html_(self) -> str:
        return H.table(self.to_polars().to_dicts(), self.to_polars().columns, "datasets")
