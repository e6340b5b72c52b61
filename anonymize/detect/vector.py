"""Find personal information in whole tables with polars: the vectorized detection path.

Same rules, same results as :func:`anonymize.detect.analyzer.analyze_text` (the
rules live in the entity definitions of :mod:`anonymize.detect.entities`), but
column at a time: regex extraction,
checksums and date checks are polars expressions and no Python runs per cell.

How a rule runs over a column:

1. Which cells may hold a match: the rules of a family (numbers, names, the
   rest) are searched for in every cell as one alternation; each rule is then
   searched for only in the cells its family matched
   (:func:`~anonymize.detect._extract.candidates`).
2. Fast path: a cell that is one match from end to end (a column of phones)
   is found with one ``contains`` and needs no extraction.
3. Other cells: one ``extract_all`` lists every match (boundary, span, tail);
   each is found as a literal and its span cut out of it
   (:func:`~anonymize.detect._extract._listed`).
   Offsets are code points: ``str.find`` gives the match's *byte* offset, so
   the bytes before it are decoded and counted with ``len_chars`` (never mixed
   with character slicing). Rust's regex has no look-around, so a boundary is
   consumed as a group: where a separator is shared by two adjacent matches,
   ``extract_all`` would miss the second one, and such cells are searched one
   match at a time, each search starting the boundary's width before the
   previous span's end (:func:`~anonymize.detect._extract._one_by_one`),
   exactly as the look-behind of the Presidio path reads.
4. Candidates are trimmed and validated stage by stage, cheapest first
   (:mod:`anonymize.detect._checks`), then scored with their context. An
   entity with several rules keeps no span inside another of at least its
   score (Presidio's rule).

Example:
    >>> import polars as pl
    >>> frame = pl.DataFrame({"note": ["手机13912345678。", "无"]})
    >>> scan_table(frame)[["row", "column", "start", "end"]].rows()  # the phone number
    [(0, 'note', 2, 13)]
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from anonymize.detect import _checks, _routing
from anonymize.detect._extract import candidates, spans
from anonymize.detect.context import (
    CONTEXT_BOOST,
    CONTEXT_FLOOR,
    CONTEXT_WINDOW,
    NEGATIVE_CONTEXT,
    NEGATIVE_FACTOR,
    context_regex,
    context_words,
    halving_words,
)
from anonymize.detect.entities import ENTITIES, entity_set
from anonymize.detect.entity import EntityDefinition, Rule
from anonymize.detect.findings import FINDINGS_SCHEMA, Span
from anonymize.detect.text import FULLWIDTH, HALFWIDTH, PAD_AFTER, PAD_BEFORE
from anonymize.errors import AnonymizationError

_FULLWIDTH_CLASS = "[\uff01-\uff5e\u3000]"
_MIN_CHUNK = 20_000
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


def _scored(found: pl.DataFrame, definition: EntityDefinition, rule: Rule) -> pl.DataFrame:
    """Valid spans with their score after forms and context (as the Presidio path)."""
    # Independent row filters, the one that drops most first: a bank card that reads as an ID
    # needs a card word before it (none in a column of IDs), and is dropped before Luhn.
    if definition.trim is not None:
        found = definition.trim.vector(found)
    first = _checks.gives_way_first(definition)
    if first:
        found = _checks.keep_in_context(found, definition)
    found = _checks.keep_valid(found, definition)
    found = _checks.keep_followed(found, rule.follow, rule.follow_word)
    found = _checks.keep_bounded(found, rule.bounded, rule.kind == "behind")
    if not first:
        found = _checks.keep_in_context(found, definition)
    hit = pl.col("hit")
    score = pl.lit(rule.score, dtype=pl.Float64)
    for form, form_score in reversed(rule.forms):
        score = pl.when(hit.str.contains(f"^(?:{form})$")).then(form_score).otherwise(score)
    opening = (pl.col("start") - CONTEXT_WINDOW).clip(lower_bound=0)
    window = pl.col("padded").str.slice(opening + len(PAD_BEFORE), pl.col("start") - opening)
    window = window.str.to_lowercase()
    # One lazy query from here: polars fuses the steps and runs the three parts in parallel.
    lazy = found.lazy().with_columns(score.alias("score"))
    # Context words precede a span: none at a cell's start. Elsewhere the nearest-word regex
    # needs captures (slow), so it runs only where some word occurs at all.
    inside = lazy.filter(pl.col("start") > 0).with_columns(window.alias("window"))
    has_word = pl.col("window").str.contains(context_words(definition))
    if halving_words(definition):
        nearest = pl.col("window").str.extract(context_regex(definition), 1)
    else:
        # Every word raises the score alike: which is nearest does not matter (no capture).
        nearest = pl.lit("", dtype=pl.String)
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
        pl.lit(definition.name).alias("entity"),
        "start",
        "end",
        adjusted.cast(pl.Float64).alias("score"),
    ).collect()


def scan_table(
    frame: pl.DataFrame,
    columns: list[str] | None = None,
    entities: Iterable[str] | None = None,
    threshold: float = 0.5,
    *,
    fuse: bool = True,
    classify: bool = False,
) -> pl.DataFrame:
    """Find personal information in every cell of ``frame``.

    Args:
        frame: Any table. Text, integer and whole-number float columns are
            scanned; lists and structs through their JSON rendering (offsets
            point into it); booleans, dates, times and binaries are skipped.
        columns: Columns to scan (default: all), in the order findings are wanted.
        entities: Entity names to look for (default: all of
            :data:`~anonymize.detect.entities.ENTITIES`).
        threshold: Smallest score reported, after context.
        fuse: Read free-text cells with the trained tagger too
            (:mod:`anonymize.detect.fusion`); ``False`` runs the rules alone
            (benchmarks, and callers that scan only structured columns).
        classify: Classify each long column from a sample first and run on
            its cells only its entity's rules, and every rule where a cell
            could hold another entity (:mod:`anonymize.detect._routing`); the
            findings are the same as with ``False`` (every rule on every cell).
            Off by default: on the benchmark's table it measured no faster at
            1M rows and up to 2x slower at 20,000 (the rules of the entities a
            column does not hold were already cheap; the sample and the guard
            cost what they save).

    Returns:
        One row per finding with exactly :data:`~anonymize.detect.findings.FINDINGS_SCHEMA`
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
    definitions = [definition for definition in ENTITIES if definition.name in wanted]

    def scan(column: str) -> pl.DataFrame | None:
        # one column on its own: selecting from the whole (wide) frame costs its width
        cells = _prepared(frame.get_column(column).to_frame(), column)
        if cells is None or not cells.height:
            return None
        if classify:
            found = _scan_planned(cells, definitions, threshold)
        else:
            found = _scan_column(cells, definitions, threshold)
        if fuse and schema[column] in _TEXT_TYPES:
            text = frame.get_column(column).cast(pl.String)
            found = _fused(text, found, wanted, threshold)
        return found.with_columns(pl.lit(column).alias("column"))

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


def _scan_column(
    cells: pl.DataFrame, definitions: list[EntityDefinition], threshold: float
) -> pl.DataFrame:
    """Findings of ``definitions`` in one prepared column: row, entity, start, end, score;
    sorted."""
    pairs = [(definition, rule) for definition in definitions for rule in definition.rules]
    found: dict[str, list[pl.DataFrame]] = {definition.name: [] for definition in definitions}
    rules = [rule for _, rule in pairs]
    for (definition, rule), cells_of_rule in zip(pairs, candidates(cells, rules), strict=True):
        if cells_of_rule is not None:
            found[definition.name].append(_scored(spans(cells_of_rule, rule), definition, rule))
    parts = []
    for definition in definitions:
        mine = found[definition.name]
        if mine:
            # One rule's matches never overlap; several rules' may (Presidio's rule then).
            several = len(definition.rules) > 1
            parts.append(_drop_contained(pl.concat(mine)) if several else pl.concat(mine))
    parts = [f.filter(pl.col("score") >= threshold) for f in parts]
    if not parts:
        return pl.DataFrame(schema=_COLUMN_SCHEMA)
    # One packed key (row < 2^32, start < 2^31), stable: ties keep registry and rule order.
    key = pl.col("row") * (1 << 31) + pl.col("start")
    return pl.concat(parts).sort(key, maintain_order=True)


def _scan_planned(
    cells: pl.DataFrame, definitions: list[EntityDefinition], threshold: float
) -> pl.DataFrame:
    """:func:`_scan_column`, each cell with only the rules that can find something in it."""
    plan = _routing.plan(cells, definitions, threshold, _scan_column)
    if plan.guard is None:
        return _scan_column(cells, list(plan.own), threshold)
    doubt = _routing.doubtful(cells, plan.guard)
    routes = ((cells.filter(doubt), definitions), (cells.filter(~doubt), list(plan.own)))
    parts = [_scan_column(part, chosen, threshold) for part, chosen in routes if part.height]
    if len(parts) == 1:
        return parts[0]
    # Each cell's findings come from one part, in the order the full scan lists them.
    key = pl.col("row") * (1 << 31) + pl.col("start")
    return pl.concat(parts).sort(key, maintain_order=True)


def _fused(
    text: pl.Series, found: pl.DataFrame, wanted: frozenset[str], threshold: float
) -> pl.DataFrame:
    """The findings of a text column with its free-text cells fused with the tagger's reading.

    The cells :func:`anonymize.detect.fusion.is_free_text` selects (the same
    test, as a polars expression) go to the tagger in one batch, with their
    rule findings; every other cell keeps its findings as they are.
    """
    from anonymize.detect import fusion

    if not wanted & fusion.FUSED:
        return found
    han = text.str.count_matches(fusion.HAN_CLASS).fill_null(0)
    rows = (han >= fusion.MIN_HAN).arg_true()
    if not rows.len():
        return found
    chosen = rows.to_list()
    texts = text.gather(rows).to_list()
    index = {row: i for i, row in enumerate(chosen)}
    spans: list[list[Span]] = [[] for _ in chosen]
    mine = found.filter(pl.col("row").is_in(rows.implode()))
    for row, entity, start, end, score in mine.select(list(_COLUMN_SCHEMA)).iter_rows():
        spans[index[row]].append(Span(start, end, entity, score))
    fused = fusion.fuse_texts(texts, spans, wanted)
    again = pl.DataFrame(
        [
            (row, s.entity, s.start, s.end, s.score)
            for row, cell in zip(chosen, fused, strict=True)
            for s in cell
            if s.score >= threshold
        ],
        schema=_COLUMN_SCHEMA,
        orient="row",
    )
    rest = found.filter(~pl.col("row").is_in(rows.implode()))
    key = pl.col("row") * (1 << 31) + pl.col("start")
    return pl.concat([rest, again]).sort(key, maintain_order=True)


#: Column types whose cells are text the tagger may read (categories are text too).
_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum)

_COLUMN_SCHEMA = {
    "row": pl.Int64,
    "entity": pl.String,
    "start": pl.Int64,
    "end": pl.Int64,
    "score": pl.Float64,
}


def _drop_contained(spans: pl.DataFrame) -> pl.DataFrame:
    """Spans of one entity's rules without repeats and spans inside one of at least their
    score.

    Presidio's rule (``EntityRecognizer.remove_duplicates``, after context and
    before the threshold), as :func:`anonymize.detect.rules.drop_contained`.
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
