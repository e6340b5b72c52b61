"""How the vector path finds the matches of one rule in a column of cells.

Not API; see :mod:`anonymize.detect.vector` for the steps. A frame of cells
holds ``row`` and ``padded`` (the normalized cell between
:data:`~anonymize.detect.text.PAD_BEFORE` and
:data:`~anonymize.detect.text.PAD_AFTER`); a frame of spans adds ``start``,
``hit`` and ``end`` (code-point offsets into the cell). Matches are not
validated here.
"""

from __future__ import annotations

import re

import polars as pl

from anonymize.detect.entity import Rule
from anonymize.detect.text import ALONE_AFTER, PAD_AFTER, PAD_BEFORE

_PADDING = len(PAD_BEFORE) + len(PAD_AFTER)


def candidates(cells: pl.DataFrame, rules: list[Rule]) -> list[pl.DataFrame | None]:
    """For each rule, the cells its family matches somewhere (None when no cell does).

    Each search costs about the same per cell whatever the regex, so rules that
    tend to match in the same columns (:func:`_family`) are searched for
    together, as one alternation: in a column of IDs the name and e-mail rules
    cost one search. Each rule's own search is its extraction (:func:`_listed`),
    over its family's cells only. Searches run in one ``select``, which polars
    runs in parallel.
    """
    padded = pl.col("padded")
    families: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        families.setdefault(_family(rule, rules), []).append(i)
    found: list[pl.DataFrame | None] = [None] * len(rules)
    flags = cells.select(
        padded.str.contains("|".join(f"(?:{_whole_regex(rules[i])})" for i in members))
        .fill_null(False)
        .alias(str(members[0]))
        for members in families.values()
    )
    for members in families.values():
        matched = flags[str(members[0])]
        if not matched.any():
            continue
        subset = cells.filter(matched)
        for i in members:
            found[i] = subset
    return found


def _family(rule: Rule, rules: list[Rule]) -> str:
    """Rules searched for together first: an entity's several rules (names), rules that
    require the same (numbers: four digits) and the rest."""
    if sum(other.entity == rule.entity for other in rules) > 1:
        return rule.entity
    if sum(other.requires == rule.requires for other in rules) > 1:
        return rule.requires
    return "other"


def _whole_regex(rule: Rule) -> str:
    """The rule's regex without groups (an alternation of rules cannot repeat group names)."""
    return f"(?:{rule.lead})(?:{rule.pattern})(?:{rule.tail})"


def spans(candidates: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """Every match of ``rule`` in its cells: ``row``, ``padded``, ``start``, ``end``, ``hit``.

    Offsets are into the cell (the padding taken off); matches are not validated yet.
    """
    padded = pl.col("padded")
    parts = []
    whole_cell = _whole_cell_regex(rule)
    if whole_cell is not None and _mostly_whole(candidates, whole_cell):
        # A cell that is one match from end to end (a column of phones) needs no extraction:
        # its first match starts at 0 and, the rule being greedy, takes the whole cell.
        whole = candidates.select(padded.str.contains(whole_cell)).to_series()
        length = padded.str.len_chars().cast(pl.Int64) - _PADDING
        parts.append(
            candidates.filter(whole).select(
                "row",
                "padded",
                pl.lit(0, dtype=pl.Int64).alias("start"),
                padded.str.slice(len(PAD_BEFORE), length).alias("hit"),
                length.alias("end"),
            )
        )
        candidates = candidates.filter(~whole)
    if candidates.height:
        listed, again = _listed(candidates, rule)
        parts.append(listed)
        if again.height:
            parts.append(_one_by_one(again, rule))
    return pl.concat(parts) if parts else pl.DataFrame(schema=SPANS_SCHEMA)


def _listed(cells: pl.DataFrame, rule: Rule) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All matches of every cell from one ``extract_all``, and the cells it cannot decide.

    ``extract_all`` lists the leftmost-first matches of the whole regex (boundaries
    included) without overlap; each is then found as a literal (its first
    occurrence is the match unless it lies before the previous match's end: such
    a cell is decided one match at a time). The one-by-one search resumes
    ``step_back`` characters before a span's end, inside the consumed tail and
    boundary, where ``extract_all`` does not look: where a match could start in
    that gap (two matches sharing a separator, ``a,b``), the cell is decided one
    match at a time as well, and so is a cell with a fast-pattern match longer
    than the fast pattern vouches for (:attr:`~anonymize.detect.entity.Rule.fast`).

    Returns:
        The spans of the decided cells (as :func:`spans`), and the other cells
        (``row``, ``padded``) for :func:`_one_by_one`.
    """
    padded, match, at = pl.col("padded"), pl.col("match"), pl.col("at")
    pattern = rule.fast[0] if rule.fast is not None else rule.pattern
    whole = f"(?:{rule.lead})(?:{pattern})(?:{rule.tail})"
    before = padded.cast(pl.Binary).bin.slice(0, at).cast(pl.String).str.len_chars()
    begin = before.cast(pl.Int64) + pl.col("lead") - len(PAD_BEFORE)
    after = at + match.str.len_bytes()
    same_cell = pl.col("row") == pl.col("row").shift(1)
    listed = (
        cells.lazy()
        .select("row", "padded", padded.str.extract_all(whole).alias("match"))
        .explode("match")
        .filter(match.is_not_null())
        .with_columns(padded.str.find(match, literal=True).alias("at"))
        .with_columns(
            (same_cell & (at < after.shift(1))).alias("misplaced"),
            (before + match.str.len_chars()).cast(pl.Int64).alias("consumed"),
        )
        .collect()
    )
    found = (
        _cut(listed, rule, pattern)
        .lazy()
        .select(
            "row",
            "padded",
            "misplaced",
            "consumed",
            begin.alias("start"),
            "hit",
            (begin + pl.col("hit").str.len_chars()).alias("end"),
        )
        .collect()
    )
    # Where the one-by-one search resumes (padded offsets) and how far the match consumed.
    resume = pl.col("end") + len(PAD_BEFORE) - rule.step_back
    gap = int(found.select((pl.col("consumed") - resume).max()).item() or 0)
    doubtful = pl.col("misplaced")
    if gap > 0:
        starts_in_gap = f"^(?s:.{{0,{gap - 1}}})(?:{whole})"
        doubtful = doubtful | padded.str.slice(resume).str.contains(starts_in_gap)
    if rule.fast is not None:
        doubtful = doubtful | (pl.col("hit").str.len_chars() > rule.fast[1])
    undecided = found.filter(doubtful).select("row").unique()
    spans = found.join(undecided, on="row", how="anti").select(list(SPANS_SCHEMA))
    return spans, cells.join(undecided, on="row", how="semi")


def _one_by_one(candidates: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """Every match of ``rule`` in its cells, one vectorized pass per match number.

    For match number k, one pass over the cells that had a match k-1 finds the
    next match from ``step_back`` characters before the previous span's end.
    """
    padded = pl.col("padded")
    regex = rule.vector_regex()
    parts = []
    state = candidates.with_columns(padded.alias("rest"), pl.lit(0, dtype=pl.Int64).alias("offset"))
    rest = pl.col("rest")
    while state.height:
        step = _next_match(state, rule, fast=rule.fast is not None)
        if rule.fast is not None:
            # A long match of the fast pattern may differ: those cells are searched again.
            long = step.filter(pl.col("hit").str.len_chars() > rule.fast[1])
            if long.height:
                again = state.join(long.select("row"), on="row", how="semi")
                step = pl.concat([step.join(long, on="row", how="anti"), _next_match(again, rule)])
        parts.append(step)
        resume = pl.col("end") + len(PAD_BEFORE) - rule.step_back
        state = (
            step.select("row", "padded", resume.alias("offset"))
            .with_columns(padded.str.slice(pl.col("offset")).alias("rest"))
            .filter(rest.str.contains(regex))
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=SPANS_SCHEMA)


def _next_match(state: pl.DataFrame, rule: Rule, fast: bool = False) -> pl.DataFrame:
    """The first match in each cell's ``rest`` (from ``offset``): ``row``, ``padded``, ``start``,
    ``hit``, ``end``; cells without one are dropped.

    The match's text is extracted first and then found as a literal: its first
    occurrence is the match (an earlier one would be an earlier match, no
    look-around reading beyond it), and a literal search is several times cheaper
    than searching the regex again. ``find`` gives a byte offset; the bytes
    before it, decoded, count its code points.
    """
    rest, match = pl.col("rest"), pl.col("match")
    pattern = rule.fast[0] if fast and rule.fast is not None else rule.pattern
    found = rest.str.find(match, literal=True)
    skipped = rest.cast(pl.Binary).bin.slice(0, found).cast(pl.String).str.len_chars()
    begin = pl.col("offset") + skipped.cast(pl.Int64) + pl.col("lead") - len(PAD_BEFORE)
    matched = (
        state.lazy()
        .with_columns(
            rest.str.extract(f"(?:{rule.lead})(?:{pattern})(?:{rule.tail})", 0).alias("match")
        )
        .filter(match.is_not_null())
        .collect()
    )
    return (
        _cut(matched, rule, pattern)
        .lazy()
        .select("row", "padded", begin.alias("start"), "hit")
        .with_columns((pl.col("start") + pl.col("hit").str.len_chars()).alias("end"))
        .collect()
    )


def _whole_cell_regex(rule: Rule) -> str | None:
    """A regex for a padded cell that is one match of ``rule`` from end to end, or None
    where the rule has no such fast path.

    The span must take the whole cell and its tail the padding after it: a tail
    of two characters (``13912345678.``: a dot and the padding) leaves the dot
    out of the span, so such a cell is not one match from end to end.
    """
    if not rule.whole_cell or not re.fullmatch(rule.tail, PAD_AFTER):
        return None
    return f"^(?:{rule.lead})(?:{rule.pattern}){re.escape(PAD_AFTER)}$"


def _mostly_whole(candidates: pl.DataFrame, regex: str, sample: int = 1000) -> bool:
    """Whether most of a sample of cells match the whole-cell ``regex`` (so the fast path
    pays)."""
    head = candidates.head(sample)
    whole = head.select(pl.col("padded").str.contains(regex).sum()).item()
    return bool(whole * 2 > head.height)


def _cut(frame: pl.DataFrame, rule: Rule, pattern: str) -> pl.DataFrame:
    """``frame`` (with a whole ``match`` of ``rule``) and its ``lead`` width and ``hit``.

    A context phrase (``anchored``) is cut off by the phrase's own preferred
    match at the start of the match (a search without captures); where the rest
    is one span and its tail, that is the split the whole regex prefers (the
    phrase's choices come first in its order of preference). The other matches
    are split by :func:`_lead_and_hit`. Rows may come back in another order.
    """
    match = pl.col("match")
    if rule.kind != "anchored" or not frame.height:
        return frame.with_columns(_lead_and_hit(match, rule, pattern)).unnest("m")
    lead = match.str.extract(f"^(?:{rule.lead})", 0)
    rest = match.str.slice(lead.str.len_chars())
    cut = frame.with_columns(
        lead.str.len_chars().cast(pl.Int64).alias("lead"),
        rest.str.slice(0, rest.str.len_chars() - rule.tail_width).alias("hit"),
        rest.str.contains(f"^(?:{pattern})(?:{rule.tail})$").fill_null(False).alias("_cut"),
    )
    done = pl.col("_cut")
    others = cut.filter(~done).drop("lead", "hit", "_cut")
    split = others.with_columns(_lead_and_hit(match, rule, pattern)).unnest("m")
    return pl.concat([cut.filter(done).drop("_cut"), split])


def _lead_and_hit(match: pl.Expr, rule: Rule, pattern: str) -> pl.Expr:
    """A struct of the ``lead`` width (code points) and ``hit`` text of a whole ``match``.

    A look-behind is two characters wide and every tail's width can be read off
    the match's end, so the match is cut into lead, span and tail without a
    capture; a context phrase (``anchored``) varies, so the match is split by the
    rule's regex anchored at both ends (leftmost-first, it splits it as the
    unanchored search did: a preferred split would have been a match there too).
    """
    if rule.kind == "anchored":
        split = f"^(?P<lead>{rule.lead})(?P<hit>{pattern})(?:{rule.tail})$"
        groups = match.str.extract_groups(split)
        return pl.struct(
            groups.struct.field("lead").str.len_chars().cast(pl.Int64).alias("lead"),
            groups.struct.field("hit"),
        ).alias("m")
    if rule.tail == ALONE_AFTER:  # one character, or a dot and one: no span ends in "."
        tail = pl.when(match.str.slice(-2, 1) == ".").then(2).otherwise(1)
    else:
        tail = pl.lit(rule.tail_width)
    width = match.str.len_chars().cast(pl.Int64) - rule.step_back - tail
    return pl.struct(
        pl.lit(rule.step_back, dtype=pl.Int64).alias("lead"),
        match.str.slice(rule.step_back, width).alias("hit"),
    ).alias("m")


SPANS_SCHEMA = {
    "row": pl.Int64,
    "padded": pl.String,
    "start": pl.Int64,
    "hit": pl.String,
    "end": pl.Int64,
}
