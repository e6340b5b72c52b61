"""Catalog columns as the client sees them, and their polars types."""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from jobs.spec import NUMERIC_DTYPES
from policies.catalog import ColumnTag
from sandbox.client import html as H

_CALL = re.compile(r"^(?P<name>\w+)(?:\((?P<args>.*)\))?$")
_ARG = re.compile(r"(?:(?P<key>\w+)=)?(?P<value>'[^']*'|[^,\s]+)")
_SIMPLE: dict[str, pl.DataType] = {
    "Boolean": pl.Boolean(),
    "Int8": pl.Int8(),
    "Int16": pl.Int16(),
    "Int32": pl.Int32(),
    "Int64": pl.Int64(),
    "UInt8": pl.UInt8(),
    "UInt16": pl.UInt16(),
    "UInt32": pl.UInt32(),
    "UInt64": pl.UInt64(),
    "Float32": pl.Float32(),
    "Float64": pl.Float64(),
    "String": pl.String(),
    "Utf8": pl.String(),
    "Categorical": pl.String(),
    "Enum": pl.String(),
    "Date": pl.Date(),
    "Time": pl.Time(),
    "Binary": pl.Binary(),
    "Null": pl.Null(),
}


def polars_dtype(name: str) -> pl.DataType:
    """The polars type the catalog's dtype name stands for.

    The catalog stores ``str(dtype)`` (``Int64``, ``Datetime(time_unit='us',
    time_zone=None)``); polars has no public parser for that text, so the few
    shapes a table column can take are read here. Categoricals and enums
    become ``String`` (their categories are data); unknown or nested types
    become ``String`` too, which is what dummy data can honestly offer.

    >>> polars_dtype("Datetime(time_unit='ms', time_zone='Asia/Shanghai')")
    Datetime(time_unit='ms', time_zone='Asia/Shanghai')
    >>> polars_dtype("Int32")
    Int32
    """
    match = _CALL.match(name.strip())
    if match is None:
        return pl.String()
    base, args = match["name"], match["args"] or ""
    if base in _SIMPLE:
        return _SIMPLE[base]
    values = {
        (m["key"] or str(i)): m["value"].strip("'") for i, m in enumerate(_ARG.finditer(args))
    }
    unit = values.get("time_unit", values.get("0", "us"))
    unit = unit if unit in ("ns", "us", "ms") else "us"
    if base == "Datetime":
        zone = values.get("time_zone", values.get("1", "None"))
        return pl.Datetime(unit, None if zone == "None" else zone)  # type: ignore[arg-type]
    if base == "Duration":
        return pl.Duration(unit)  # type: ignore[arg-type]
    if base == "Decimal":
        return pl.Float64()
    return pl.String()


@dataclass(frozen=True, slots=True)
class Column:
    """One catalog column: name, polars dtype name and privacy tag.

    Attributes:
        name: The column name.
        dtype: The polars dtype name as the catalog stores it.
        tag: How jobs may use it (art. 37): a direct identifier never enters a query.
    """

    name: str
    dtype: str
    tag: ColumnTag

    @property
    def polars_dtype(self) -> pl.DataType:
        """The column's polars type."""
        return polars_dtype(self.dtype)

    @property
    def is_numeric(self) -> bool:
        """Whether aggregates such as sum or mean can measure it."""
        return self.dtype in NUMERIC_DTYPES  # the service's own rule

    def _repr_html_(self) -> str:
        items = {"dtype": self.dtype, "tag": self.tag.value, "numeric": self.is_numeric}
        return H.fields(f"column {self.name}", items)
