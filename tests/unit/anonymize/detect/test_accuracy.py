"""Per-entity recall and precision of both detection paths on the seeded corpus (issue 3).

A prediction is a true positive when its entity and both offsets equal a
labelled span (exact match). The relaxed figures count any overlap with a span
of the same entity, to tell boundary disagreements from misses. The targets of
issue 3 are asserted on exact matches; :func:`accuracy_table` gives the table
that ``benchmarks/pii_accuracy.py`` prints for the README.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from anonymize.detect.entities import Entity
from anonymize.detect.findings import FINDINGS_SCHEMA
from tests.corpus import (
    HELD_OUT_SETS,
    MARKED_SETS,
    LabelledText,
    make_corpus,
    marked_notes,
    table,
)

SEED = 20250501
VECTOR_N = 3000
PRESIDIO_N = 800
STRICT = (Entity.CN_RESIDENT_ID, Entity.PHONE_NUMBER, Entity.EMAIL_ADDRESS, Entity.BANK_CARD)
REPORTED = tuple(e for e in Entity if e not in STRICT)
MIN_RECALL, MIN_PRECISION = 0.99, 0.98  # issue 3, "Evidence"
#: Names (issue 3): recall and precision at least 0.98 on both paths, exact offsets.
PERSON_MIN_RECALL = PERSON_MIN_PRECISION = 0.98
#: Size of each held-out notes corpus (``make_corpus(..., notes=...)``), reported only.
HELD_OUT_N = 800
# Issue 3 sets no target for names, addresses, passports, plates and USCCs: it asks to report
# them. The floor only catches a recognizer that is missing, unwired or cut by the threshold
# (recall near 0), so it is on overlap recall: where a free-form entity begins or ends (is 江苏省
# part of the address, is 502室?) is a convention the exact figures in the table show.
FLOOR_RECALL = 0.5
EXAMPLES = 10

#: One finding or label: (row, start, end, entity), code-point offsets.
Found = tuple[int, int, int, str]


def predict_vector(corpus: list[LabelledText], *, fuse: bool = True) -> list[Found]:
    """Findings of :func:`anonymize.detect.vector.scan_table` on the corpus as one column.

    ``fuse=False`` runs the rules alone (no tagger).
    """
    from anonymize.detect.vector import scan_table

    frame = scan_table(table(corpus), fuse=fuse)
    rows = frame.select("row", "start", "end", "entity").iter_rows()
    return [(int(r), int(s), int(e), str(k)) for r, s, e, k in rows]


def predict_presidio(corpus: list[LabelledText], *, fuse: bool = True) -> list[Found]:
    """Findings of :func:`anonymize.detect.analyzer.analyze_text`, one text at a time."""
    from anonymize.detect.analyzer import analyze_text

    return [
        (i, span.start, span.end, span.entity)
        for i, item in enumerate(corpus)
        for span in analyze_text(item.text, fuse=fuse)
    ]


PATHS = {"vector": (predict_vector, VECTOR_N), "presidio": (predict_presidio, PRESIDIO_N)}


@dataclass(slots=True)
class Score:
    """Counts for one entity on one path, with the misses and false alarms kept for reports."""

    entity: str
    support: int = 0
    predicted: int = 0
    tp: int = 0
    relaxed_hit_gold: int = 0
    relaxed_hit_pred: int = 0
    false_negatives: list[Found] = field(default_factory=list)
    false_positives: list[Found] = field(default_factory=list)

    @property
    def fp(self) -> int:
        return self.predicted - self.tp

    @property
    def fn(self) -> int:
        return self.support - self.tp

    @property
    def precision(self) -> float:
        return self.tp / self.predicted if self.predicted else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / self.support if self.support else float("nan")

    @property
    def relaxed_precision(self) -> float:
        return self.relaxed_hit_pred / self.predicted if self.predicted else float("nan")

    @property
    def relaxed_recall(self) -> float:
        return self.relaxed_hit_gold / self.support if self.support else float("nan")


def _overlaps(a: Found, b: Found) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def score(corpus: list[LabelledText], found: list[Found]) -> dict[str, Score]:
    """Score findings against the labels, per entity; unknown entity names go under their name.

    Args:
        corpus: The labelled texts the findings were made on.
        found: ``(row, start, end, entity)`` per finding; duplicates count once.

    Returns:
        One :class:`Score` per entity of :class:`Entity` and per other name predicted.
    """
    gold = {(i, s, e, k) for i, t in enumerate(corpus) for s, e, k in t.spans}
    pred = set(found)
    scores = {str(e): Score(str(e)) for e in Entity}
    by_row: dict[int, list[Found]] = defaultdict(list)
    for g in gold:
        by_row[g[0]].append(g)
    pred_by_row: dict[int, list[Found]] = defaultdict(list)
    for p in pred:
        pred_by_row[p[0]].append(p)
    for g in sorted(gold):
        sc = scores[g[3]]
        sc.support += 1
        if g in pred:
            sc.tp += 1
        else:
            sc.false_negatives.append(g)
        if any(p[3] == g[3] and _overlaps(p, g) for p in pred_by_row[g[0]]):
            sc.relaxed_hit_gold += 1
    for p in sorted(pred):
        sc = scores.setdefault(p[3], Score(p[3]))
        sc.predicted += 1
        if p not in gold:
            sc.false_positives.append(p)
        if any(g[3] == p[3] and _overlaps(p, g) for g in by_row[p[0]]):
            sc.relaxed_hit_pred += 1
    return scores


@dataclass(frozen=True, slots=True)
class Run:
    """One path run on one corpus: the findings and their scores."""

    corpus: list[LabelledText]
    found: list[Found]
    scores: dict[str, Score]


def evaluate(
    path: str,
    n: int | None = None,
    seed: int = SEED,
    notes: tuple[str, ...] | None = None,
    *,
    fuse: bool = True,
) -> Run:
    """Run one path (``"vector"`` or ``"presidio"``) on a seeded corpus and score it.

    ``notes`` scores texts drawn from these templates instead (the held-out notes
    :data:`tests.corpus.HELD_OUT_NOTES` or :data:`tests.corpus.UNSEEN_NOTES`);
    ``fuse=False`` runs the rules alone.
    """
    _, default_n = PATHS[path]
    corpus = make_corpus(default_n if n is None else n, seed, notes)
    return evaluate_corpus(path, corpus, fuse=fuse)


def evaluate_corpus(
    path: str,
    corpus: list[LabelledText],
    *,
    fuse: bool = True,
    entities: frozenset[str] | None = None,
) -> Run:
    """Run one path on given labelled texts (a generated corpus or marked notes) and score it.

    Args:
        path: ``"vector"`` or ``"presidio"``.
        corpus: The texts and their labels.
        fuse: Fuse the rules with the tagger (``False``: the rules alone).
        entities: Score only these entities (findings of others are dropped): the
            marked notes (:func:`tests.corpus.marked_notes`) label names and
            addresses only, so a phone number found there is not a false alarm.

    Returns:
        The run, scored.
    """
    predict, _ = PATHS[path]
    found = predict(corpus, fuse=fuse)
    if entities is not None:
        found = [f for f in found if f[3] in entities]
    return Run(corpus, found, score(corpus, found))


def table_of(scores: dict[str, dict[str, Score]]) -> pl.DataFrame:
    """One row per path and entity, in :class:`Entity` order, then unknown names."""
    order = {str(e): k for k, e in enumerate(Entity)}
    rows = [
        {
            "path": path, "entity": s.entity, "support": s.support, "predicted": s.predicted,
            "tp": s.tp, "fp": s.fp, "fn": s.fn, "precision": s.precision, "recall": s.recall,
            "relaxed_precision": s.relaxed_precision, "relaxed_recall": s.relaxed_recall,
        }
        for path, per_entity in scores.items()
        for s in sorted(per_entity.values(), key=lambda s: (order.get(s.entity, 99), s.entity))
    ]  # fmt: skip
    return pl.DataFrame(rows)


def accuracy_table(
    paths: tuple[str, ...] = ("vector", "presidio"),
    vector_n: int = VECTOR_N,
    presidio_n: int = PRESIDIO_N,
    seed: int = SEED,
) -> pl.DataFrame:
    """Compute the per-entity accuracy table of the detection paths on the seeded corpus.

    Args:
        paths: Which paths to run.
        vector_n: Corpus size for the vectorized path.
        presidio_n: Corpus size for the Presidio path (slower, one text at a time).
        seed: Corpus seed.

    Returns:
        Columns ``path, entity, support, predicted, tp, fp, fn, precision, recall,
        relaxed_precision, relaxed_recall``.
    """
    sizes = {"vector": vector_n, "presidio": presidio_n}
    return table_of({p: evaluate(p, sizes[p], seed).scores for p in paths})


def markdown(frame: pl.DataFrame) -> str:
    """Render :func:`accuracy_table` as a GitHub markdown table."""
    head = "| path | entity | support | TP | FP | FN | precision | recall | overlap P | overlap R |"
    lines = [head, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in frame.iter_rows(named=True):
        figures = (r["precision"], r["recall"], r["relaxed_precision"], r["relaxed_recall"])
        lines.append(
            f"| {r['path']} | {r['entity']} | {r['support']} | {r['tp']} | {r['fp']} | {r['fn']} | "
            + " | ".join("–" if x != x else f"{x:.4f}" for x in figures)
            + " |"
        )
    return "\n".join(lines)


def mask(text: str) -> str:
    """Mask every digit of each number beyond its first four (ASCII or full-width digits)."""

    def one(m: re.Match[str]) -> str:
        seen, out = 0, []
        for c in m.group():
            if c.isdigit():
                seen += 1
                out.append(c if seen <= 4 else "*")
            else:
                out.append(c)
        return "".join(out)

    return re.sub(r"[0-9０-９](?:[ \-]?[0-9０-９])*", one, text)


def describe(corpus: list[LabelledText], item: Found, found: list[Found]) -> str:
    """One example line: entity, offsets, what else lies there, and the masked text in context."""
    row, start, end, entity = item
    t = corpus[row]
    near = [f"label {k}{(s, e)}" for s, e, k in t.spans if s < end and start < e]
    near += [f"negative {k}{(s, e)}" for s, e, k in t.negatives if s < end and start < e]
    near += [f"found {f[3]}{f[1:3]}" for f in found if f != item and _overlaps(f, item)]
    lo, hi = max(0, start - 25), min(len(t.text), end + 25)
    window = t.text[lo:start] + "⟦" + t.text[start:end] + "⟧" + t.text[end:hi]
    return f"({entity}, ({start}, {end}), {mask(window)!r}) row {row}; " + (
        "; ".join(near) or "nothing overlaps"
    )


def failure_report(corpus: list[LabelledText], scores: dict[str, Score], found: list[Found],
                   entity: str) -> str:  # fmt: skip
    """Counts and up to :data:`EXAMPLES` false negatives and false positives of one entity."""
    s = scores[entity]
    kinds = Counter(
        k for f in s.false_positives for a, b, k in corpus[f[0]].negatives if a < f[2] and f[1] < b
    )
    lines = [
        f"{entity}: support {s.support}, predicted {s.predicted}, TP {s.tp}, FP {s.fp}, FN {s.fn};"
        f" precision {s.precision:.4f}, recall {s.recall:.4f}; overlap precision"
        f" {s.relaxed_precision:.4f}, overlap recall {s.relaxed_recall:.4f}",
        f"false positives on hard negatives: {dict(kinds.most_common())}",
        "false negatives:",
        *("  " + describe(corpus, f, found) for f in s.false_negatives[:EXAMPLES]),
        "false positives:",
        *("  " + describe(corpus, f, found) for f in s.false_positives[:EXAMPLES]),
    ]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def vector_run() -> Run:
    return evaluate("vector")


@pytest.fixture(scope="module")
def presidio_run() -> Run:
    return evaluate("presidio")


def _check_targets(run: Run, entity: str) -> None:
    s = run.scores[entity]
    ok = s.recall >= MIN_RECALL and s.precision >= MIN_PRECISION
    assert ok, failure_report(run.corpus, run.scores, run.found, entity)


def _check_floor(run: Run, entity: str) -> None:
    s = run.scores[entity]
    assert s.relaxed_recall >= FLOOR_RECALL, failure_report(
        run.corpus, run.scores, run.found, entity
    )


@pytest.mark.parametrize("entity", STRICT)
def test_scan_table_when_seeded_corpus_then_meets_recall_and_precision_targets(
    vector_run: Run, entity: Entity
) -> None:
    _check_targets(vector_run, entity)


@pytest.mark.slow
@pytest.mark.parametrize("entity", STRICT)
def test_analyze_text_when_seeded_corpus_then_meets_recall_and_precision_targets(
    presidio_run: Run, entity: Entity
) -> None:
    _check_targets(presidio_run, entity)


def _check_person(run: Run) -> None:
    s = run.scores[Entity.PERSON]
    ok = s.recall >= PERSON_MIN_RECALL and s.precision >= PERSON_MIN_PRECISION
    assert ok, failure_report(run.corpus, run.scores, run.found, Entity.PERSON)


def test_scan_table_when_seeded_corpus_then_person_meets_targets(vector_run: Run) -> None:
    _check_person(vector_run)


@pytest.mark.slow
def test_analyze_text_when_seeded_corpus_then_person_meets_targets(presidio_run: Run) -> None:
    _check_person(presidio_run)


@pytest.mark.parametrize("entity", REPORTED)
def test_scan_table_when_seeded_corpus_then_reported_entity_above_sanity_floor(
    vector_run: Run, entity: Entity
) -> None:
    _check_floor(vector_run, entity)


@pytest.mark.slow
@pytest.mark.parametrize("entity", REPORTED)
def test_analyze_text_when_seeded_corpus_then_reported_entity_above_sanity_floor(
    presidio_run: Run, entity: Entity
) -> None:
    _check_floor(presidio_run, entity)


def test_scan_table_when_corpus_scanned_then_findings_follow_the_contract() -> None:
    from anonymize.detect.vector import scan_table

    corpus = make_corpus(200, SEED)
    frame = scan_table(table(corpus))
    assert dict(frame.schema) == FINDINGS_SCHEMA
    assert set(frame["column"].unique().to_list()) <= {"text"}
    assert set(frame["entity"].unique().to_list()) <= {str(e) for e in Entity}
    lengths = [len(corpus[r].text) for r in frame["row"].to_list()]
    assert all(
        0 <= s < e <= n for s, e, n in zip(frame["start"], frame["end"], lengths, strict=True)
    )


@pytest.mark.slow
def test_analyze_text_when_corpus_scanned_then_reports_only_contract_entities(
    presidio_run: Run,
) -> None:
    assert {f[3] for f in presidio_run.found} <= {str(e) for e in Entity}


def test_accuracy_table_when_built_from_a_run_then_one_row_per_entity(vector_run: Run) -> None:
    frame = table_of({"vector": vector_run.scores})
    assert frame["entity"].to_list()[: len(Entity)] == [str(e) for e in Entity]
    assert frame["support"].sum() == sum(len(t.spans) for t in vector_run.corpus)
    assert markdown(frame).count("\n") == frame.height + 1


def test_mask_when_numbers_then_only_first_four_digits_shown() -> None:
    assert (
        mask("手机 138 0013 8000，卡号６２２２０２１２") == "手机 138 0*** ****，卡号６２２２****"
    )


PHONE_TEXT = [LabelledText("手机：13800138000。", [(3, 14, "PHONE_NUMBER")])]


@pytest.mark.parametrize(
    ("found", "tp", "fp", "fn", "overlap_precision", "overlap_recall"),
    [
        ([(0, 3, 14, "PHONE_NUMBER")], 1, 0, 0, 1.0, 1.0),  # exact
        ([(0, 3, 14, "PHONE_NUMBER")] * 2, 1, 0, 0, 1.0, 1.0),  # a duplicate counts once
        ([(0, 3, 15, "PHONE_NUMBER")], 0, 1, 1, 1.0, 1.0),  # takes the full stop: boundary only
        ([(0, 3, 14, "BANK_CARD")], 0, 0, 1, float("nan"), 0.0),  # right place, wrong entity
        ([], 0, 0, 1, float("nan"), 0.0),  # nothing found
    ],
)
def test_score_when_findings_vary_then_counts_exact_and_overlap_matches(
    found: list[Found], tp: int, fp: int, fn: int, overlap_precision: float, overlap_recall: float
) -> None:
    s = score(PHONE_TEXT, found)["PHONE_NUMBER"]
    assert (s.tp, s.fp, s.fn, s.relaxed_recall) == (tp, fp, fn, overlap_recall)
    assert s.relaxed_precision == pytest.approx(overlap_precision, nan_ok=True)


#: The held-out note sets, scored on the fused vector path (``scan_table``, tagger on).
#: Texts drawn from each held-out set.
FUSED_N = 300
#: Names and addresses on the fused path, exact offsets, on each held-out set. Measured on
#: 2026-12-05 (recall / precision), PERSON: HELD_OUT 0.998 / 0.998, UNSEEN 0.991 / 0.995,
#: INDEPENDENT 0.983 / 0.983, BLIND 0.966 / 0.988, LAST 0.976 / 0.975, SIXTH 0.991 / 0.994;
#: CN_ADDRESS 1.0 / 1.0 on all but INDEPENDENT (0.98 / 0.98). Every set meets the target.
FUSED_MIN_RECALL = FUSED_MIN_PRECISION = 0.95
#: Regression floors on the marked notes of 2026-12-05 (:func:`tests.corpus.marked_notes`):
#: the figures of that day with the tagger fused, minus 0.02 (recall, precision). Measured:
#: PERSON 182 of 207 found, 182 of 193 right (0.879 / 0.943); CN_ADDRESS 92 of 104, 92 of 101
#: (0.885 / 0.911).
MARKED_FLOORS = {"PERSON": (0.859, 0.923), "CN_ADDRESS": (0.864, 0.890)}
#: The same for the second and third sets of that day (``BLIND_FILE_B``, ``BLIND_FILE_C``),
#: each scored once blind (B before its misses were looked at, C with the final fusion):
#: B 0.858 / 0.911 and 0.843 / 0.887, C 0.896 / 0.923 and 0.864 / 0.899 (PERSON, CN_ADDRESS);
#: floors below today's figures (B after its misses were looked at: 0.853 / 0.916, 0.853 /
#: 0.897), minus 0.02.
_FLOORS_BY_SET = {
    "A": MARKED_FLOORS,
    "B": {"PERSON": (0.833, 0.896), "CN_ADDRESS": (0.833, 0.877)},
    "C": {"PERSON": (0.876, 0.903), "CN_ADDRESS": (0.844, 0.879)},
    # D to G, 2026-12-06, each scored once blind (D 0.793 / 0.873 and 0.770 / 0.778; E
    # 0.813 / 0.901 and 0.918 / 0.947; F 0.882 / 0.911 and 0.847 / 0.874; G 0.887 / 0.934 and
    # 0.908 / 0.927), then looked at; floors are the final code's figures minus 0.02
    # (D 0.896 / 0.953 and 0.930 / 0.939, E 0.902 / 0.946 and 0.898 / 0.926, F 0.910 / 0.926
    # and 0.908 / 0.937, G 0.911 / 0.959 and 0.949 / 0.969).
    "D": {"PERSON": (0.876, 0.933), "CN_ADDRESS": (0.910, 0.919)},
    "E": {"PERSON": (0.882, 0.926), "CN_ADDRESS": (0.878, 0.906)},
    "F": {"PERSON": (0.890, 0.906), "CN_ADDRESS": (0.888, 0.917)},
    "G": {"PERSON": (0.894, 0.943), "CN_ADDRESS": (0.929, 0.949)},
    # H, scored once blind with the final code: 0.852 / 0.912 and 0.921 / 0.921.
    "H": {"PERSON": (0.832, 0.892), "CN_ADDRESS": (0.901, 0.901)},
    # I to Q, the next working day, each scored once blind with fec291b and with the code of
    # the moment (see benchmarks/README.md: I 0.876 / 0.912 and 0.860 / 0.883 … O 0.944 /
    # 0.954 and 0.774 / 0.856), then looked at; floors are the final code's figures minus
    # 0.02.
    "I": {"PERSON": (0.947, 0.938), "CN_ADDRESS": (0.892, 0.900)},
    # J's and V's name precision: the span head's figures minus 0.02 (J 0.987 / 0.940, V
    # 0.955 / 0.894: recall up 1.7 and 3.2 points, precision down 0.6 and 1.7).
    "J": {"PERSON": (0.950, 0.920), "CN_ADDRESS": (0.896, 0.912)},
    "K": {"PERSON": (0.940, 0.963), "CN_ADDRESS": (0.855, 0.896)},
    "L": {"PERSON": (0.961, 0.951), "CN_ADDRESS": (0.913, 0.922)},
    "M": {"PERSON": (0.941, 0.960), "CN_ADDRESS": (0.920, 0.949)},
    "N": {"PERSON": (0.954, 0.933), "CN_ADDRESS": (0.900, 0.934)},
    "O": {"PERSON": (0.941, 0.941), "CN_ADDRESS": (0.780, 0.865)},
    # P and Q: the last two, each scored once blind (P with the final code: 0.917 / 0.958 and
    # 0.815 / 0.858; Q just before the last round: 0.962 / 0.946 and 0.773 / 0.852).
    "P": {"PERSON": (0.897, 0.938), "CN_ADDRESS": (0.795, 0.838)},
    "Q": {"PERSON": (0.942, 0.926), "CN_ADDRESS": (0.764, 0.844)},
    # R: written after the code was final, scored once blind: 0.901 / 0.974 and 0.843 / 0.850.
    "R": {"PERSON": (0.881, 0.954), "CN_ADDRESS": (0.823, 0.830)},
    # S to W: written in a later session, each scored once blind with its round's code (S
    # 0.837 / 0.888 and 0.844 / 0.844, T 0.856 / 0.921 and 0.853 / 0.830, U 0.942 / 0.950 and
    # 0.884 / 0.884, V 0.923 / 0.931 and 0.854 / 0.872; W, after the last round: 0.845 / 0.935
    # and 0.857 / 0.913), then looked at; floors on the final figures minus 0.02.
    "S": {"PERSON": (0.914, 0.896), "CN_ADDRESS": (0.852, 0.893)},
    "T": {"PERSON": (0.859, 0.926), "CN_ADDRESS": (0.861, 0.877)},
    "U": {"PERSON": (0.939, 0.939), "CN_ADDRESS": (0.885, 0.885)},
    "V": {"PERSON": (0.903, 0.874), "CN_ADDRESS": (0.845, 0.872)},
    "W": {"PERSON": (0.825, 0.915), "CN_ADDRESS": (0.837, 0.893)},
    # X: written in the session after, scored once blind (the int8 tagger, its float32
    # tagger and the session's starting code read it alike): 0.742 / 0.947 and 0.757 / 0.796;
    # not tuned on. Floors: those figures minus 0.02.
    "X": {"PERSON": (0.722, 0.927), "CN_ADDRESS": (0.737, 0.776)},
    # Y, Z and AA, 2026-12-07, each scored once blind (benchmarks/README.md); the span head
    # was then trained on A–Z. Floors: the shipped code's figures minus 0.02 (Y 0.938 /
    # 0.949 and 0.963 / 0.945, Z 0.951 / 0.955 and 0.966 / 0.949; AA, not trained on, 0.947
    # / 0.951 and 0.953 / 0.936).
    "Y": {"PERSON": (0.918, 0.929), "CN_ADDRESS": (0.943, 0.925)},
    "Z": {"PERSON": (0.931, 0.935), "CN_ADDRESS": (0.946, 0.929)},
    "AA": {"PERSON": (0.927, 0.931), "CN_ADDRESS": (0.933, 0.916)},
    # AB, the session after, scored once blind with the int8 head (0.925 / 0.949 and 0.960 /
    # 0.970); floors those figures minus 0.02.
    "AB": {"PERSON": (0.905, 0.929), "CN_ADDRESS": (0.940, 0.950)},
    # AC, the same session, scored once blind with the final code (0.941 / 0.954 and 0.976 /
    # 0.921); floors those figures minus 0.02.
    "AC": {"PERSON": (0.921, 0.934), "CN_ADDRESS": (0.956, 0.901)},
    # AD to AH, the session after, each scored once blind (benchmarks/README.md: AD 0.958 /
    # 0.874 and 0.968 / 0.929, AE 0.965 / 0.910 and 0.905 / 0.864, AF 0.949 / 0.873 and
    # 0.973 / 0.922, AG 0.957 / 0.875 and 0.915 / 0.878; AH and AI, after the code was
    # final, 0.941 / 0.951 and 0.929 / 0.901, 0.958 / 0.940 and 0.921 / 0.892); floors the
    # final figures minus 0.02.
    "AD": {"PERSON": (0.938, 0.905), "CN_ADDRESS": (0.948, 0.909)},
    "AE": {"PERSON": (0.948, 0.941), "CN_ADDRESS": (0.885, 0.844)},
    "AF": {"PERSON": (0.929, 0.909), "CN_ADDRESS": (0.953, 0.902)},
    "AG": {"PERSON": (0.948, 0.865), "CN_ADDRESS": (0.895, 0.858)},
    "AH": {"PERSON": (0.921, 0.931), "CN_ADDRESS": (0.909, 0.881)},
    "AI": {"PERSON": (0.938, 0.920), "CN_ADDRESS": (0.901, 0.872)},
    # AJ, AK and AL, the session after, each scored once blind (benchmarks/README.md: AJ with
    # the starting code 0.962 / 0.953 and 0.980 / 0.980; AK 0.978 / 0.953 and 0.952 / 0.937,
    # AL 0.963 / 0.943 and 0.885 / 0.829, after the address checks); floors the final
    # figures minus 0.02.
    "AJ": {"PERSON": (0.942, 0.945), "CN_ADDRESS": (0.960, 0.970)},
    "AK": {"PERSON": (0.958, 0.933), "CN_ADDRESS": (0.948, 0.940)},
    "AL": {"PERSON": (0.947, 0.927), "CN_ADDRESS": (0.951, 0.915)},
    # AM, AN and AO, each scored once blind with the code of its round (AM 0.933 / 0.877 and
    # 0.920 / 0.885, AN 0.941 / 0.869 and 1.000 / 0.986, AO, the final code, 0.961 / 0.847 and
    # 0.943 / 0.922); AM and AN then tuned on. Floors: the final figures minus 0.02 (AM's
    # its blind figures').
    "AM": {"PERSON": (0.913, 0.857), "CN_ADDRESS": (0.900, 0.865)},
    "AN": {"PERSON": (0.941, 0.907), "CN_ADDRESS": (0.980, 0.966)},
    "AO": {"PERSON": (0.941, 0.827), "CN_ADDRESS": (0.923, 0.902)},
    # AP to AT, the session after, each scored once blind with the code of its round (AP, the
    # starting code c196047, 0.932 / 0.937 and 0.883 / 0.904; AQ, the first round, 0.954 /
    # 0.938 and 0.803 / 0.870; AR, the second, 0.979 / 0.940 and 0.846 / 0.873; AS, the third,
    # 0.959 / 0.916 and 0.890 / 0.956; AT, the final code, 0.949 / 0.943 and 0.809 / 0.906);
    # AP to AS then tuned on. Floors: the final figures minus 0.02.
    "AP": {"PERSON": (0.933, 0.941), "CN_ADDRESS": (0.871, 0.892)},
    "AQ": {"PERSON": (0.941, 0.934), "CN_ADDRESS": (0.809, 0.878)},
    "AR": {"PERSON": (0.959, 0.931), "CN_ADDRESS": (0.842, 0.862)},
    "AS": {"PERSON": (0.944, 0.916), "CN_ADDRESS": (0.891, 0.944)},
    "AT": {"PERSON": (0.929, 0.923), "CN_ADDRESS": (0.789, 0.886)},
}
MARKED_FLOORS_BY_FILE = {MARKED_SETS[k][0]: floors for k, floors in _FLOORS_BY_SET.items()}


@cache
def _fused_run(name: str) -> Run:
    corpus = make_corpus(FUSED_N, SEED, HELD_OUT_SETS[name])
    found = predict_vector(corpus)
    return Run(corpus, found, score(corpus, found))


def _with(entity: str) -> list[str]:
    """The held-out sets whose templates hold ``entity``."""
    return [k for k, notes in HELD_OUT_SETS.items() if any(f"{{{entity}}}" in t for t in notes)]


@pytest.mark.parametrize(
    ("name", "entity"),
    [(k, e) for e in (Entity.PERSON, Entity.CN_ADDRESS) for k in _with(e)],
)
def test_scan_table_when_held_out_notes_then_fused_names_and_addresses_meet_targets(
    name: str, entity: Entity
) -> None:
    run = _fused_run(name)
    s = run.scores[entity]
    assert s.support > 0
    ok = s.recall >= FUSED_MIN_RECALL and s.precision >= FUSED_MIN_PRECISION
    assert ok, f"{name}: " + failure_report(run.corpus, run.scores, run.found, entity)


@pytest.mark.parametrize(
    ("path", "entity"),
    [(path, e) for path, floors in MARKED_FLOORS_BY_FILE.items() for e in sorted(floors)],
    ids=lambda v: v.stem if isinstance(v, Path) else str(v),
)
def test_scan_table_when_marked_notes_then_above_regression_floor(path: Path, entity: str) -> None:
    """A floor, not a target (issue 17's target, 0.95 / 0.95, is not met on these sets): the
    marked notes were written blind and scored once, then looked at, so they are no longer
    blind. The floors are the fused figures of 2026-12-05 minus 0.02, to catch a change that
    loses ground."""
    corpus = marked_notes(path)
    found = predict_vector(corpus)
    scores = score(corpus, found)
    s = scores[entity]
    min_recall, min_precision = MARKED_FLOORS_BY_FILE[path][entity]
    assert s.recall >= min_recall and s.precision >= min_precision, failure_report(
        corpus, scores, found, entity
    )
