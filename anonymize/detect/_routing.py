"""Classify first: which rules run on which cells of one column (not API).

A whole-table scan that runs every rule over every cell spends most of its
time looking for what a column cannot hold: names in a column of IDs, phones
in a column of e-mails. Most columns of a table hold one kind of value, and a
sample says which; then only that entity's rules need to run, plus every rule
on the cells that *could* hold something else.

What a cell could hold is read off each rule's
:attr:`~anonymize.detect.entity.Rule.requires`: a cheap regex that every cell
with a valid match contains (four digits for the numbers, ``@`` for e-mails,
an upper-case letter for plates, a road word for addresses, a context word or
a Chinese character for names). A cell without any of an entity's
``requires`` holds no finding of it, so skipping that entity's rules there
changes no finding: the routed scan finds exactly what the full scan finds
(``tests/unit/anonymize/detect/test_routing.py`` compares them).

:func:`plan` decides, for one prepared column (``row``, ``padded``):

1. Up to :data:`SAMPLE_CELLS` non-null cells spread over the column are
   scanned with every rule.
2. The column is one entity's when at least :data:`WHOLE_SHARE` of them are a
   finding of that entity from end to end. Free text (notes,
   :func:`anonymize.detect.fusion.is_free_text`) holds its findings inside
   its cells, not as them, so it never classifies, and neither does a mixed
   column: every rule runs on every cell there.
3. The column's own rules are its entity's, and those of any other entity
   whose ``requires`` occur in at least :data:`SHARED` of the sampled cells (a
   bank card's in a column of IDs: both are long numbers): running those on
   every cell costs less than sending most cells to every rule.
4. The guard: a cell where the ``requires`` of any other entity occur (an ID
   in a column of names, a phone in a column of addresses) is scanned with
   every rule; the other cells with the column's own rules only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from anonymize.detect.entity import EntityDefinition
from anonymize.detect.text import PAD_AFTER, PAD_BEFORE

#: Cells sampled to classify a column.
SAMPLE_CELLS = 1_000
#: A column shorter than this is scanned with every rule: the sample would cost what it saves.
MIN_CELLS = 20_000
#: Share of sampled cells that must be one entity's finding from end to end.
WHOLE_SHARE = 0.8
#: Share of sampled cells holding another entity's ``requires`` that makes its rules the
#: column's own.
SHARED = 0.25

_PADDING = len(PAD_BEFORE) + len(PAD_AFTER)

#: Findings of some entities in prepared cells (:func:`anonymize.detect.vector._scan_column`).
ScanColumn = Callable[[pl.DataFrame, list[EntityDefinition], float], pl.DataFrame]


@dataclass(frozen=True, slots=True)
class Plan:
    """How one column is scanned.

    Attributes:
        entity: The entity the column holds, or None: every rule on every cell.
        own: The entities whose rules run on every cell (registry order).
        guard: A regex over the padded cell: where it matches, every rule runs
            (None: the column's own rules are every rule).
    """

    entity: str | None
    own: tuple[EntityDefinition, ...]
    guard: str | None


def requires(definition: EntityDefinition) -> str:
    """A regex every cell holding a finding of ``definition`` matches: its rules' ``requires``."""
    wanted = dict.fromkeys(rule.requires for rule in definition.rules)
    return "|".join(f"(?:{regex})" for regex in wanted)


def plan(
    cells: pl.DataFrame,
    definitions: Sequence[EntityDefinition],
    threshold: float,
    scan: ScanColumn,
    min_cells: int | None = None,
) -> Plan:
    """Which rules run on which cells of ``cells`` (see the module docstring).

    Args:
        cells: One prepared column (``row``, ``padded``).
        definitions: The entities asked for, in registry order.
        threshold: Smallest score reported (the sample is scanned as the column).
        scan: Findings of some entities in prepared cells.
        min_cells: Columns with fewer non-null cells get every rule
            (default :data:`MIN_CELLS`).
    """
    everything = Plan(None, tuple(definitions), None)
    padded = pl.col("padded")
    present = cells.filter(padded.is_not_null())
    if present.height < (MIN_CELLS if min_cells is None else min_cells) or not present.height:
        return everything
    step = max(1, present.height // SAMPLE_CELLS)
    sample = present.gather_every(step).head(SAMPLE_CELLS).rechunk()
    found = scan(sample, list(definitions), threshold)
    length = (padded.str.len_chars() - _PADDING).cast(pl.Int64).alias("length")
    whole = found.join(sample.select("row", length), on="row").filter(
        (pl.col("start") == 0) & (pl.col("end") == pl.col("length"))
    )
    counts = (
        whole.group_by("entity")
        .agg(pl.col("row").n_unique().alias("cells"))
        .sort("cells", "entity", descending=[True, False])
    )
    if not counts.height or counts["cells"][0] < WHOLE_SHARE * sample.height:
        return everything
    entity = str(counts["entity"][0])
    others = [d for d in definitions if d.name != entity]
    if not others:
        return everything
    shares = sample.select(
        padded.str.contains(requires(d)).fill_null(False).mean().alias(str(i))
        for i, d in enumerate(others)
    ).row(0)
    shared = {d.name for d, share in zip(others, shares, strict=True) if share >= SHARED}
    own = tuple(d for d in definitions if d.name == entity or d.name in shared)
    rest = [requires(d) for d in definitions if d.name not in shared and d.name != entity]
    return Plan(entity, own, "|".join(rest) if rest else None)


def doubtful(cells: pl.DataFrame, guard: str) -> pl.Series:
    """Which cells the guard sends to every rule (null cells hold nothing: never)."""
    return cells.select(pl.col("padded").str.contains(guard).fill_null(False)).to_series()
