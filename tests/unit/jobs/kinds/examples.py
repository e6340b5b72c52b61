"""One valid example spec of each built-in kind, and the dataset they run on."""

from __future__ import annotations

from typing import Any

from jobs.facts import Column, DatasetFacts, GrantFacts
from policies.catalog import ColumnTag, Grade

#: The dataset every example reads: one of each column tag.
RESIDENTS = DatasetFacts(
    name="residents",
    parts="/nonexistent/residents/part-*.parquet",
    grade=Grade.GENERAL,
    row_count=10_123,
    public_row_count=10_000,
    privacy_unit="resident_id",
    public_keys={"city": ("南京市", "苏州市")},
    columns=(
        Column("resident_id", "String", ColumnTag.DIRECT_IDENTIFIER, nullable=False),
        Column("age", "Int64", ColumnTag.QUASI_IDENTIFIER, nullable=False),
        Column("city", "String", ColumnTag.QUASI_IDENTIFIER),
        Column("income", "Float64", ColumnTag.SENSITIVE),
        Column("illness", "String", ColumnTag.SENSITIVE),
    ),
)
#: A grant that allows linkage, with jail limits of its own.
GRANT = GrantFacts(id=7, extract_k=None, allow_linkage=True, limits={"wall_s": 60})

EXAMPLES: dict[str, dict[str, Any]] = {
    "aggregate": {
        "kind": "aggregate",
        "dataset": "residents",
        "filters": [
            {"column": "age", "op": "ge", "value": 18},
            {"column": "city", "op": "in", "value": ["南京市", "苏州市"]},
        ],
        "group_by": ["city"],
        "aggregates": [
            {"op": "count"},
            {"op": "mean", "column": "income", "lower": 0, "upper": 100_000},
            {"op": "quantile", "column": "income", "lower": 0, "upper": 1e5, "q": 0.9},
            {"op": "histogram", "column": "income", "bins": [0, 10_000, 100_000]},
        ],
        "epsilon": 1.0,
        "delta": 1e-6,
        "noise": "gaussian",
        "max_rows_per_unit": 3,
        "max_groups_per_unit": 2,
    },
    "extract": {
        "kind": "extract",
        "dataset": "residents",
        "columns": ["resident_id", "age", "city", "illness"],
        "k": 5,
        "l": 2,
        "pseudonymize": ["resident_id"],
    },
    "train": {
        "kind": "train",
        "dataset": "residents",
        "model": {"type": "logistic_regression"},
        "features": [
            {"column": "age", "lower": 0, "upper": 120},
            {"column": "city", "categories": ["南京市", "苏州市"]},
        ],
        "label": {"column": "income", "threshold": 50_000},
        "epsilon": 2.0,
    },
    "custom": {
        "kind": "custom",
        "datasets": ["residents", "households"],
        "source": "print('hello')\n",
        "entrypoint": "job/main.py",
    },
}
