"""Find personal information in whole tables with polars: the vectorized detection path.

Same rules, same results as :func:`anonymize.analyzer.analyze_text` (the rules
live in :mod:`anonymize.patterns`), but column at a time: regex extraction,
checksums and date checks are polars expressions and no Python runs per cell.

How a rule runs over a column:

1. Which cells may hold a match: the rules of a family (numbers, names, the
   rest) are searched for in every cell as one alternation; each rule is then
   searched for only in the cells its family matched (:func:`_candidates`).
2. Fast path: a cell that is one match from end to end (a column of phones)
   is found with one ``contains`` and needs no extraction.
3. Other cells: one ``extract_all`` lists every match (boundary, span, tail);
   each is found as a literal and its span cut out of it (:func:`_listed`).
   Offsets are code points: ``str.find`` gives the match's *byte* offset, so
   the bytes before it are decoded and counted with ``len_chars`` (never mixed
   with character slicing). Rust's regex has no look-around, so a boundary is
   consumed as a group: where a separator is shared by two adjacent matches,
   ``extract_all`` would miss the second one, and such cells are searched one
   match at a time, each search starting the boundary's width before the
   previous span's end (:func:`_one_by_one`), exactly as the look-behind of
   the Presidio path reads.
4. Candidates are validated stage by stage, cheapest first
   (:mod:`anonymize._vector_checks`), then scored with their context.

Example:
    >>> import polars as pl
    >>> frame = pl.DataFrame({"note": ["手机13912345678。", "无"]})
    >>> scan_table(frame)[["row", "column", "entity", "start", "end"]].rows()
    [(0, 'note', 'PHONE_NUMBER', 2, 13)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from anonymize import _vector_checks
from anonymize.context import (
    CONTEXT_BOOST,
    CONTEXT_FLOOR,
    CONTEXT_WINDOW,
    NEGATIVE_CONTEXT,
    NEGATIVE_FACTOR,
    context_regex,
    context_words,
)
from anonymize.entities import FINDINGS_SCHEMA, Entity
from anonymize.errors import AnonymizationError
from anonymize.patterns import (
    ALONE_AFTER,
    FULLWIDTH,
    HALFWIDTH,
    PAD_AFTER,
    PAD_BEFORE,
    RULES,
    Rule,
    entity_set,
)

_FULLWIDTH_CLASS = "[\uff01-\uff5e\u3000]"
_MIN_CHUNK = 20_000
_PADDING = len(PAD_BEFORE) + len(PAD_AFTER)
_SKIPPED = (pl.Boolean, pl.Null, pl.Binary, pl.Object, pl.Date, pl.Datetime, pl.Duration, pl.Time)


def _as_text(frame: pl.DataFrame, column: str) -> pl.Expr | None:
    """The column as text to scan, or None for types that hold no identifier."""
    dtype = frame.schema[column]
    value = pl.col(column)
    if isinstance(dtype, _SKIPPED):
        return None
    if dtype.is_float():
        # A float holds an identifier only as a whole number (13912345678.0).
        whole = value.is_finite() & (value == value.floor())
        return pl.when(whole).then(value.cast(pl.Int64, strict=False)).cast(pl.String)
    if dtype.is_nested():
        # Lists and structs: scan their JSON rendering; offsets point into it.
        return pl.struct(value).struct.json_encode()
    return value.cast(pl.String)


def _prepared(frame: pl.DataFrame, column: str) -> pl.DataFrame | None:
    """``row`` and the ``padded`` normalized text of ``column`` (null cells stay null)."""
    text = _as_text(frame, column)
    if text is None:
        return None
    padded = pl.concat_str(pl.lit(PAD_BEFORE), text, pl.lit(PAD_AFTER)).alias("padded")
    cells = frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), padded)
    if cells.select(pl.col("padded").str.contains(_FULLWIDTH_CLASS).any()).item():
        folded = pl.col("padded").str.replace_many(list(FULLWIDTH), list(HALFWIDTH))
        cells = cells.with_columns(folded)
    # Eager string kernels run one thread per chunk: split a long column so all cores work.
    size = max(_MIN_CHUNK, cells.height // (4 * pl.thread_pool_size()) + 1)
    if cells.height > size:
        cells = pl.concat(
            [cells.slice(i, size) for i in range(0, cells.height, size)], rechunk=False
        )
    return cells


def _candidates(cells: pl.DataFrame, rules: list[Rule]) -> list[pl.DataFrame | None]:
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
    """Rules searched for together first: names, numbers (four digits) and the rest."""
    if rule.entity is Entity.PERSON:
        return "person"
    if sum(other.requires == rule.requires for other in rules) > 1:
        return rule.requires
    return "other"


def _whole_regex(rule: Rule) -> str:
    """The rule's regex without groups (an alternation of rules cannot repeat group names)."""
    return f"(?:{rule.lead})(?:{rule.pattern})(?:{rule.tail})"


def _spans(candidates: pl.DataFrame, rule: Rule) -> pl.DataFrame:
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
    return pl.concat(parts) if parts else pl.DataFrame(schema=_SPANS_SCHEMA)


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
    than the fast pattern vouches for (:attr:`~anonymize.patterns.Rule.fast`).

    Returns:
        The spans of the decided cells (as :func:`_spans`), and the other cells
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
    spans = found.join(undecided, on="row", how="anti").select(list(_SPANS_SCHEMA))
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
    return pl.concat(parts) if parts else pl.DataFrame(schema=_SPANS_SCHEMA)


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


_SPANS_SCHEMA = {
    "row": pl.Int64,
    "padded": pl.String,
    "start": pl.Int64,
    "hit": pl.String,
    "end": pl.Int64,
}


def _scored(spans: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """Valid spans with their score after forms and context (as the Presidio path)."""
    # Three independent row filters, the one that drops most first: a bank card that reads as
    # an ID needs a card word before it (none in a column of IDs), and is dropped before Luhn.
    if rule.check == "address":
        spans = _vector_checks.trim_address(spans)
    if rule.check == "bank_card":
        spans = _vector_checks.keep_in_context(spans, rule.check)
    spans = _vector_checks.keep_valid(spans, rule.check)
    spans = _vector_checks.keep_followed(spans, rule.follow, rule.follow_word)
    spans = _vector_checks.keep_bounded(spans, rule.bounded, rule.kind == "behind")
    if rule.check != "bank_card":
        spans = _vector_checks.keep_in_context(spans, rule.check)
    hit = pl.col("hit")
    score = pl.lit(rule.score, dtype=pl.Float64)
    for form, form_score in reversed(rule.forms):
        score = pl.when(hit.str.contains(f"^(?:{form})$")).then(form_score).otherwise(score)
    opening = (pl.col("start") - CONTEXT_WINDOW).clip(lower_bound=0)
    window = pl.col("padded").str.slice(opening + len(PAD_BEFORE), pl.col("start") - opening)
    window = window.str.to_lowercase()
    # One lazy query from here: polars fuses the steps and runs the three parts in parallel.
    lazy = spans.lazy().with_columns(score.alias("score"))
    # Context words precede a span: none at a cell's start. Elsewhere the nearest-word regex
    # needs captures (slow), so it runs only where some word occurs at all.
    inside = lazy.filter(pl.col("start") > 0).with_columns(window.alias("window"))
    has_word = pl.col("window").str.contains(context_words(rule.entity))
    nearest = pl.col("window").str.extract(context_regex(rule.entity), 1)
    none = pl.lit(None, pl.String).alias("word")
    lazy = pl.concat(
        [
            inside.filter(has_word).with_columns(nearest.alias("word")).drop("window"),
            inside.filter(~has_word).with_columns(none).drop("window"),
            lazy.filter(pl.col("start") == 0).with_columns(none),
        ]
    )
    score, word = pl.col("score"), pl.col("word")
    boosted = pl.min_horizontal(pl.max_horizontal(score + CONTEXT_BOOST, CONTEXT_FLOOR), 1.0)
    adjusted = (
        pl.when(word.is_null())
        .then(score)
        .when(word.is_in(list(NEGATIVE_CONTEXT)))
        .then(score * NEGATIVE_FACTOR)
        .otherwise(boosted)
    )
    return lazy.select(
        "row",
        pl.lit(rule.entity.value).alias("entity"),
        "start",
        "end",
        adjusted.cast(pl.Float64).alias("score"),
    ).collect()


def scan_table(
    frame: pl.DataFrame,
    columns: list[str] | None = None,
    entities: Iterable[Entity | str] | None = None,
    threshold: float = 0.5,
) -> pl.DataFrame:
    """Find personal information in every cell of ``frame``.

    Args:
        frame: Any table. Text, integer and whole-number float columns are
            scanned; lists and structs through their JSON rendering (offsets
            point into it); booleans, dates, times and binaries are skipped.
        columns: Columns to scan (default: all), in the order findings are wanted.
        entities: Entity names to look for (default: all of :class:`Entity`).
        threshold: Smallest score reported, after context.

    Returns:
        One row per finding with exactly :data:`~anonymize.entities.FINDINGS_SCHEMA`
        (``row``, ``column``, ``entity``, ``start``, ``end``, ``score``; code-point
        offsets into the cell), sorted by column order, then row, then start.

    Raises:
        AnonymizationError: An unknown column or entity name.
    """
    names = list(frame.columns) if columns is None else list(columns)
    schema = frame.schema  # built once: each ``frame.schema`` costs one step per column
    missing = [c for c in names if c not in schema]
    if missing:
        raise AnonymizationError(
            f"{len(missing)} column(s) to scan are not in the table: {', '.join(missing)}"
        )
    wanted = entity_set(entities)
    rules = [rule for rule in RULES if rule.entity in wanted]

    def scan(column: str) -> pl.DataFrame | None:
        # one column on its own: selecting from the whole (wide) frame costs its width
        cells = _prepared(frame.get_column(column).to_frame(), column)
        if cells is None or not cells.height:
            return None
        return _scan_column(cells, rules, threshold).with_columns(pl.lit(column).alias("column"))

    # Columns in parallel threads (polars releases the GIL): many steps are small and would
    # leave cores idle. The biggest columns start first, so that no thread is left alone
    # with a long free-text column at the end; results come back in column order.
    workers = max(1, min(len(names), pl.thread_pool_size()))
    biggest_first = sorted(set(names), key=lambda c: -frame.get_column(c).estimated_size())
    with ThreadPoolExecutor(workers) as pool:
        scanned = dict(zip(biggest_first, pool.map(scan, biggest_first), strict=True))
    parts = [part for part in (scanned[c] for c in names) if part is not None]
    if not parts:
        return pl.DataFrame(schema=FINDINGS_SCHEMA)
    return pl.concat(parts).select(
        [pl.col(name).cast(dtype) for name, dtype in FINDINGS_SCHEMA.items()]
    )


def _scan_column(cells: pl.DataFrame, rules: list[Rule], threshold: float) -> pl.DataFrame:
    """Findings of ``rules`` in one prepared column: row, entity, start, end, score; sorted."""
    found: list[pl.DataFrame] = []
    persons: list[pl.DataFrame] = []
    for rule, candidates in zip(rules, _candidates(cells, rules), strict=True):
        if candidates is None:
            continue
        spans = _scored(_spans(candidates, rule), rule)
        (persons if rule.entity is Entity.PERSON else found).append(spans)
    if persons:
        found.append(_drop_contained(pl.concat(persons)))
    found = [f.filter(pl.col("score") >= threshold) for f in found]
    if not found:
        return pl.DataFrame(schema=_COLUMN_SCHEMA)
    # One packed key (row < 2^32, start < 2^31), stable: ties keep rule order.
    key = pl.col("row") * (1 << 31) + pl.col("start")
    return pl.concat(found).sort(key, maintain_order=True)


_COLUMN_SCHEMA = {
    "row": pl.Int64,
    "entity": pl.String,
    "start": pl.Int64,
    "end": pl.Int64,
    "score": pl.Float64,
}


def _drop_contained(spans: pl.DataFrame) -> pl.DataFrame:
    """PERSON spans of all rules without repeats and names inside a name of at least their score.

    Presidio's rule (``EntityRecognizer.remove_duplicates``, after context and
    before the threshold), as :func:`anonymize.patterns.drop_contained`.
    """
    # A row with one span keeps it: only rows with several need grouping and pairing.
    several = pl.col("row").is_duplicated()
    alone = spans.filter(~several).select(list(_COLUMN_SCHEMA))
    unique = (
        spans.filter(several)
        .group_by("row", "start", "end", maintain_order=True)
        .agg(pl.col("entity").first(), pl.col("score").max())
    )
    pairs = unique.join(unique, on="row", suffix="_outer")
    inside = pairs.filter(
        (pl.col("start_outer") <= pl.col("start"))
        & (pl.col("end") <= pl.col("end_outer"))
        & ((pl.col("start_outer") != pl.col("start")) | (pl.col("end_outer") != pl.col("end")))
        & (pl.col("score") <= pl.col("score_outer"))
    )
    kept = unique.join(inside, on=["row", "start", "end"], how="anti")
    return pl.concat([alone, kept.select(list(_COLUMN_SCHEMA))]).sort("row", "start")
