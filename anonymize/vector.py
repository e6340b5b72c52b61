"""Find personal information in whole tables with polars: the vectorized detection path.

Same rules, same results as :func:`anonymize.analyzer.analyze_text` (the rules
live in :mod:`anonymize.patterns`), but column at a time: regex extraction,
checksums and date checks are polars expressions and no Python runs per cell.

How a rule runs over a column:

1. A cheap pre-filter (``Rule.requires``: four digits, an ``@``, a road word …)
   decides which cells can hold a match at all; a rule no cell can match is
   skipped.
2. Fast path: a cell that is one match from end to end (a column of phones)
   is found with one ``contains`` and needs no extraction.
3. Other cells: for match number k, one vectorized pass over the cells that
   had a match k-1 extracts the match (boundary, span, tail) from the rest of
   the cell and cuts the span out of it.
   Offsets are code points: ``str.find`` gives the match's *byte* offset, so
   the bytes before it are decoded and counted with ``len_chars`` (never mixed
   with character slicing). Rust's regex has no look-around, so a boundary is
   consumed as a group, and the next pass starts the boundary's width before
   the span's end: a separator shared by two adjacent matches serves both,
   exactly as the look-behind of the Presidio path does.
4. Candidates are validated stage by stage, cheapest first
   (:mod:`anonymize._vector_checks`), then scored with their context.

Example:
    >>> import polars as pl
    >>> frame = pl.DataFrame({"note": ["手机13912345678。", "无"]})
    >>> scan_table(frame)[["row", "column", "entity", "start", "end"]].rows()
    [(0, 'note', 'PHONE_NUMBER', 2, 13)]
"""

from __future__ import annotations

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


def _spans(cells: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """Every match of ``rule``: ``row``, ``padded`` text, ``start``, ``end``, ``hit``.

    Offsets are into the cell (the padding taken off); matches are not validated yet.
    """
    padded = pl.col("padded")
    regex = rule.vector_regex()
    candidates = cells.filter(padded.str.contains(regex))
    parts = []
    if rule.whole_cell and _mostly_whole(candidates, regex):
        # A cell that is one match from end to end (a column of phones) needs no extraction:
        # its first match starts at 0 and, the rule being greedy, takes the whole cell.
        whole = candidates.select(padded.str.contains(f"^{regex}$")).to_series()
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
    state = candidates.with_columns(padded.alias("rest"), pl.lit(0, dtype=pl.Int64).alias("offset"))
    rest = pl.col("rest")
    while state.height:
        # find() gives the match's byte offset; the bytes before it, decoded, count its code
        # points. Cheaper than capturing the skipped text with a leading (.*?) group.
        skipped = rest.cast(pl.Binary).bin.slice(0, rest.str.find(regex)).cast(pl.String)
        begin = pl.col("offset") + pl.col("skipped").str.len_chars() + pl.col("lead")
        step = (
            state.with_columns(_lead_and_hit(rest, rule), skipped.alias("skipped"))
            .unnest("m")
            .filter(pl.col("hit").is_not_null())
            .select("row", "padded", (begin - len(PAD_BEFORE)).cast(pl.Int64).alias("start"), "hit")
            .with_columns((pl.col("start") + pl.col("hit").str.len_chars()).alias("end"))
        )
        parts.append(step)
        resume = pl.col("end") + len(PAD_BEFORE) - rule.step_back
        state = (
            step.select("row", "padded", resume.alias("offset"))
            .with_columns(padded.str.slice(pl.col("offset")).alias("rest"))
            .filter(rest.str.contains(regex))
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=_SPANS_SCHEMA)


def _mostly_whole(candidates: pl.DataFrame, regex: str, sample: int = 1000) -> bool:
    """Whether most of a sample of cells are one match each (so the fast path pays)."""
    head = candidates.head(sample)
    whole = head.select(pl.col("padded").str.contains(f"^{regex}$").sum()).item()
    return bool(whole * 2 > head.height)


def _lead_and_hit(rest: pl.Expr, rule: Rule) -> pl.Expr:
    """A struct of the first match's ``lead`` width (code points) and ``hit`` text in ``rest``.

    A look-behind is two characters wide and every tail's width can be read off
    the match's end, so the whole match (no capture groups: twice as fast) is cut
    into lead, span and tail; a context phrase (``anchored``) varies, so it is
    captured.
    """
    if rule.kind == "anchored":
        groups = rest.str.extract_groups(rule.vector_regex())
        return pl.struct(
            groups.struct.field("lead").str.len_chars().cast(pl.Int64).alias("lead"),
            groups.struct.field("hit"),
        ).alias("m")
    whole = rest.str.extract(f"(?:{rule.lead})(?:{rule.pattern})(?:{rule.tail})", 0)
    if rule.tail == ALONE_AFTER:  # one character, or a dot and one: no span ends in "."
        tail = pl.when(whole.str.slice(-2, 1) == ".").then(2).otherwise(1)
    else:
        tail = pl.lit(rule.tail_width)
    width = whole.str.len_chars().cast(pl.Int64) - rule.step_back - tail
    return pl.struct(
        pl.lit(rule.step_back, dtype=pl.Int64).alias("lead"),
        whole.str.slice(rule.step_back, width).alias("hit"),
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
    spans = _vector_checks.keep_valid(spans, rule.check)
    spans = _vector_checks.keep_followed(spans, rule.follow)
    spans = _vector_checks.keep_in_context(spans, rule.check)
    hit = pl.col("hit")
    score = pl.lit(rule.score, dtype=pl.Float64)
    for form, form_score in reversed(rule.forms):
        score = pl.when(hit.str.contains(f"^(?:{form})$")).then(form_score).otherwise(score)
    opening = (pl.col("start") - CONTEXT_WINDOW).clip(lower_bound=0)
    window = pl.col("padded").str.slice(opening + len(PAD_BEFORE), pl.col("start") - opening)
    window = window.str.to_lowercase()
    spans = spans.with_columns(score.alias("score"))
    # Context words precede a span: none at a cell's start. Elsewhere the nearest-word regex
    # needs captures (slow), so it runs only where some word occurs at all.
    inside = spans.filter(pl.col("start") > 0).with_columns(window.alias("window"))
    has_word = pl.col("window").str.contains(context_words(rule.entity))
    nearest = pl.col("window").str.extract(context_regex(rule.entity), 1)
    none = pl.lit(None, pl.String).alias("word")
    spans = pl.concat(
        [
            inside.filter(has_word).with_columns(nearest.alias("word")).drop("window"),
            inside.filter(~has_word).with_columns(none).drop("window"),
            spans.filter(pl.col("start") == 0).with_columns(none),
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
    return spans.select(
        "row",
        pl.lit(rule.entity.value).alias("entity"),
        "start",
        "end",
        adjusted.cast(pl.Float64).alias("score"),
    )


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
    missing = [c for c in names if c not in frame.schema]
    if missing:
        raise AnonymizationError(
            f"{len(missing)} column(s) to scan are not in the table: {', '.join(missing)}"
        )
    wanted = entity_set(entities)
    rules = [rule for rule in RULES if rule.entity in wanted]

    def scan(column: str) -> pl.DataFrame | None:
        cells = _prepared(frame, column)
        if cells is None or not cells.height:
            return None
        return _scan_column(cells, rules, threshold).with_columns(pl.lit(column).alias("column"))

    # Columns in parallel threads (polars releases the GIL): many steps are small and would
    # leave cores idle; results come back in column order.
    workers = max(1, min(len(names), pl.thread_pool_size()))
    with ThreadPoolExecutor(workers) as pool:
        parts = [part for part in pool.map(scan, names) if part is not None]
    if not parts:
        return pl.DataFrame(schema=FINDINGS_SCHEMA)
    return pl.concat(parts).select(
        [pl.col(name).cast(dtype) for name, dtype in FINDINGS_SCHEMA.items()]
    )


def _scan_column(cells: pl.DataFrame, rules: list[Rule], threshold: float) -> pl.DataFrame:
    """Findings of ``rules`` in one prepared column: row, entity, start, end, score; sorted."""
    # Every pre-filter in one select: polars evaluates the expressions in parallel.
    patterns = sorted({rule.requires for rule in rules})
    flags = cells.select(
        pl.col("padded").str.contains(p).fill_null(False).alias(str(i))
        for i, p in enumerate(patterns)
    )
    features = {p: flags.to_series(i) for i, p in enumerate(patterns)}
    found: list[pl.DataFrame] = []
    persons: list[pl.DataFrame] = []
    for rule in rules:
        feature = features[rule.requires]
        if not feature.any():
            continue
        subset = cells if feature.all() else cells.filter(feature)
        spans = _scored(_spans(subset, rule), rule)
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
    unique = spans.group_by("row", "start", "end", maintain_order=True).agg(
        pl.col("entity").first(), pl.col("score").max()
    )
    pairs = unique.join(unique, on="row", suffix="_outer")
    inside = pairs.filter(
        (pl.col("start_outer") <= pl.col("start"))
        & (pl.col("end") <= pl.col("end_outer"))
        & ((pl.col("start_outer") != pl.col("start")) | (pl.col("end_outer") != pl.col("end")))
        & (pl.col("score") <= pl.col("score_outer"))
    )
    kept = unique.join(inside, on=["row", "start", "end"], how="anti")
    return kept.select(list(_COLUMN_SCHEMA)).sort("row", "start")
