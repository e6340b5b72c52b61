"""Propose a tag for each column of a table, with the evidence behind it.

Ingest calls :func:`propose_tags` on a sample; the steward's declared tag is
checked against the proposal and a less protective tag needs an explicit,
audited override (art. 20, 62: classification and grading). Evidence holds
counts, fractions and entity names, never a value.

The rules, in order:

1. identifiers found by the detectors (:func:`anonymize.detect.vector.scan_table`):
   a column where at least half of the sampled cells *are* a personal
   identifier, or where checksum- or structure-validated identifiers (IDs,
   phones, e-mails, cards, passports, plates) appear inside free text in at
   least 2 % of cells, is a ``direct_identifier``. Names and addresses (the
   ``contextual`` entities) count only by the majority rule: a column of place
   names (常州市) has the odd cell that looks like a name, a column of names
   has almost only such cells;
2. a unique-per-row text column (a customer number, a case id) is a
   ``direct_identifier``: it singles people out whatever it looks like;
3. column names that say what they hold (age, sex, birth date, district,
   postcode, education, occupation …; income, diagnosis, religion …, in
   English and Chinese) make ``quasi_identifier`` or ``sensitive``;
4. dates are ``quasi_identifier`` (a birth or event date narrows people down);
5. anything else is ``plain``.

The sample is scanned where :func:`propose_tags` is called (at ingest, the
API process), rules fused with the trained tagger for free-text cells: at
most :data:`SAMPLE_ROWS` cells a column reach the tagger (1 to 3 ms each), so
the scan stays in that process; whole tables are spread over Ray by the jobs
that scan them (``jobs.scan``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from policies.catalog import ColumnTag

#: How protective a tag is; a declared tag below the proposal needs an override.
PROTECTION: dict[ColumnTag, int] = {
    ColumnTag.DIRECT_IDENTIFIER: 3,
    ColumnTag.SENSITIVE: 2,
    ColumnTag.QUASI_IDENTIFIER: 2,
    ColumnTag.PLAIN: 1,
}
WHOLE_CELL_SHARE = 0.5
IN_TEXT_SHARE = 0.02
UNIQUE_SHARE = 0.95
SAMPLE_ROWS = 2000

_QUASI = re.compile(
    r"age|sex|gender|birth|dob|zip|post_?code|district|county|city|province|region|"
    r"education|occupation|job|marital|ethnic|nationality|"
    r"年龄|性别|出生|生日|邮编|区|县|市|省|学历|职业|婚姻|民族|籍贯",
    re.IGNORECASE,
)
_SENSITIVE = re.compile(
    r"income|salary|wage|diagnos|disease|health|medical|religio|politic|criminal|sexual|"
    r"biometric|debt|credit_score|收入|工资|薪|诊断|疾病|病|健康|医疗|宗教|政治|犯罪|债务|生物识别",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed tag and why."""

    tag: ColumnTag
    rule: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _findings_by_column(sample: pl.DataFrame) -> pl.DataFrame:
    from anonymize.detect.entities import names
    from anonymize.detect.vector import scan_table

    personal = names(personal=True)
    texts = sample.select(pl.col(c).cast(pl.String) for c in sample.columns)
    findings = scan_table(texts, entities=personal)
    lengths = (
        texts.with_row_index("row")
        .unpivot(index="row", variable_name="column", value_name="text")
        .with_columns(pl.col("text").str.len_chars().alias("length"), pl.col("row").cast(pl.Int64))
    )
    return findings.join(lengths.select("row", "column", "length"), on=["row", "column"])


def propose_tags(
    frame: pl.DataFrame | pl.LazyFrame, sample_rows: int = SAMPLE_ROWS, seed: int = 0
) -> dict[str, Proposal]:
    """Propose a tag for every column from a sample of rows.

    Args:
        frame: The table (a lazy frame is sampled from its head).
        sample_rows: How many rows to look at.
        seed: Sampling seed, so a proposal can be reproduced.

    Returns:
        Column name to proposal, in column order.
    """
    if isinstance(frame, pl.LazyFrame):
        sample = frame.head(sample_rows * 5).collect()
    else:
        sample = frame
    if sample.height > sample_rows:
        sample = sample.sample(sample_rows, seed=seed)
    found = _findings_by_column(sample) if sample.height else None
    # Split once: filtering the findings column by column costs columns x findings.
    by_column: dict[str, pl.DataFrame] = (
        {}
        if found is None
        else {str(key[0]): part for key, part in found.partition_by("column", as_dict=True).items()}
    )
    proposals: dict[str, Proposal] = {}
    for column in sample.columns:
        proposals[column] = _propose(column, sample.get_column(column), by_column.get(column))
    return proposals


def _propose(column: str, values: pl.Series, mine: pl.DataFrame | None) -> Proposal:
    present = values.drop_nulls()
    n = max(present.len(), 1)
    if mine is not None and mine.height:
        whole = mine.filter((pl.col("end") - pl.col("start")) * 10 >= pl.col("length") * 8)
        whole_rows = whole["row"].n_unique()
        # Found by dictionaries and context rather than checksums: they count by majority only.
        contextual = _contextual()
        text_rows = mine.filter(~pl.col("entity").is_in(contextual))["row"].n_unique()
        entities = dict(mine.group_by("entity").len().sort("entity").iter_rows())
        evidence = {
            "sampled": n,
            "cells_with_identifier": mine["row"].n_unique(),
            "cells_that_are_identifiers": whole_rows,
            "entities": entities,
        }
        if whole_rows / n >= WHOLE_CELL_SHARE:
            return Proposal(ColumnTag.DIRECT_IDENTIFIER, "identifier values", evidence)
        if text_rows / n >= IN_TEXT_SHARE:
            return Proposal(ColumnTag.DIRECT_IDENTIFIER, "identifiers in free text", evidence)
    dtype = values.dtype
    if dtype == pl.String and n >= 20 and present.n_unique() / n >= UNIQUE_SHARE:
        return Proposal(
            ColumnTag.DIRECT_IDENTIFIER,
            "unique per row",
            {"sampled": n, "distinct_share": round(present.n_unique() / n, 3)},
        )
    if _SENSITIVE.search(column):
        return Proposal(ColumnTag.SENSITIVE, "column name", {"name_matches": "sensitive"})
    if _QUASI.search(column):
        return Proposal(ColumnTag.QUASI_IDENTIFIER, "column name", {"name_matches": "quasi"})
    if dtype.is_temporal():
        return Proposal(ColumnTag.QUASI_IDENTIFIER, "date or time", {"dtype": str(dtype)})
    return Proposal(ColumnTag.PLAIN, "no rule matched", {"sampled": n})


def _contextual() -> list[str]:
    from anonymize.detect.entities import names

    return names(contextual=True)


def less_protective(declared: ColumnTag, proposed: ColumnTag) -> bool:
    """Whether a declared tag protects less than the proposal (an override is needed).

    >>> less_protective(ColumnTag.PLAIN, ColumnTag.DIRECT_IDENTIFIER)
    True
    >>> less_protective(ColumnTag.SENSITIVE, ColumnTag.QUASI_IDENTIFIER)
    False
    """
    return PROTECTION[declared] < PROTECTION[proposed]
