"""PII detection accuracy of both paths on the seeded ground-truth corpus, as markdown.

    python benchmarks/pii_accuracy.py [--vector-n N] [--presidio-n N] [--seed S] [--examples]

Prints per-entity support, TP/FP/FN, precision and recall (exact offsets)
and the overlap figures for the vectorized path (``anonymize.vector``) and the
Presidio path (``anonymize.analyzer``); these are the README's figures. A
further tables score both paths on held-out notes (``tests.corpus``'s
``HELD_OUT_NOTES``, ``UNSEEN_NOTES``, ``INDEPENDENT_NOTES``, ``BLIND_NOTES``,
``LAST_NOTES``, ``SIXTH_NOTES``: names in places the name rules were not written
for; the last four were written by helpers who never saw the rules) and the
sets of blind notes (``tests.corpus.marked_notes(path)`` with ``BLIND_FILE``,
``BLIND_FILE_B``, ``BLIND_FILE_C`` of 2026-12-05, ``BLIND_FILE_D`` to ``BLIND_FILE_X``
of 2026-12-06, I to W the next working days: 120 notes each with their names and
addresses marked, written by a helper who saw neither the code, the rules, the tagger
nor the other sets; each scored once blind, then looked at, see benchmarks/README.md), each with
the rules alone and with the rules fused with the trained tagger
(``fuse=False`` / ``fuse=True``), both paths.
``--examples`` adds, per entity below target, up to ten masked misses and
false alarms. The corpus and the scoring live in ``tests/`` (``tests.corpus``,
``tests.unit.anonymize.test_accuracy``) so the tests and this table agree.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the `tests` package

import polars as pl

from tests.corpus import (
    HELD_OUT_SETS,
    MARKED_SETS,
    LabelledText,
    make_corpus,
    marked_notes,
)
from tests.unit.anonymize.detect.test_accuracy import (
    HELD_OUT_N,
    MIN_PRECISION,
    MIN_RECALL,
    PERSON_MIN_PRECISION,
    PERSON_MIN_RECALL,
    PRESIDIO_N,
    SEED,
    STRICT,
    VECTOR_N,
    evaluate,
    evaluate_corpus,
    failure_report,
    markdown,
    table_of,
)

#: (path, fuse, label) of each configuration the held-out and blind tables compare.
CONFIGS = (
    ("vector", False, "vector rules"),
    ("vector", True, "vector + tagger"),
    ("presidio", False, "presidio rules"),
    ("presidio", True, "presidio + tagger"),
)
#: The entities the blind notes of 2026-12-05 mark.
MARKED = frozenset({"PERSON", "CN_ADDRESS"})


def rules_vs_fused(
    corpus: list[LabelledText], entities: frozenset[str] | None = None
) -> tuple[pl.DataFrame, bool]:
    """Scores of the rules alone and fused with the tagger, both paths, on labelled texts.

    Args:
        corpus: The texts and their labels.
        entities: Score only these entities (:data:`MARKED` for the marked notes).

    Returns:
        The :func:`table_of` rows of entities with support, one block per
        configuration of :data:`CONFIGS`, and whether the two paths found the same
        spans in each setting.
    """
    runs = {
        label: evaluate_corpus(path, corpus, fuse=fuse, entities=entities)
        for path, fuse, label in CONFIGS
    }
    labels = [label for _, _, label in CONFIGS]
    agree = all(set(runs[labels[i]].found) == set(runs[labels[i + 2]].found) for i in (0, 1))
    scores = table_of({label: run.scores for label, run in runs.items()})
    return scores.filter(pl.col("support") > 0), agree


def print_rules_vs_fused(
    title: str, corpus: list[LabelledText], entities: frozenset[str] | None = None
) -> None:
    """One markdown table of :func:`rules_vs_fused`, with its title.

    When both paths found the same spans (they should), only the vector path's
    rows are printed.
    """
    start = time.perf_counter()
    scores, agree = rules_vs_fused(corpus, entities)
    if agree:
        scores = scores.filter(pl.col("path").str.starts_with("vector"))
    same = "Presidio's are the same" if agree else "the paths DIFFER"
    print(
        f"\n{title} ({len(corpus):,} texts; the rules alone vs fused with the tagger; {same};"
        f" {time.perf_counter() - start:.1f} s):\n"
    )
    print(markdown(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vector-n", type=int, default=VECTOR_N)
    parser.add_argument("--presidio-n", type=int, default=PRESIDIO_N)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--held-out-n", type=int, default=HELD_OUT_N)
    parser.add_argument("--examples", action="store_true", help="list misses and false alarms")
    args = parser.parse_args()

    runs = {}
    for path, n in (("vector", args.vector_n), ("presidio", args.presidio_n)):
        start = time.perf_counter()
        runs[path] = evaluate(path, n, args.seed)
        print(f"{path}: {n:,} texts, seed {args.seed}, {time.perf_counter() - start:.1f} s")
    print()
    print(markdown(table_of({p: r.scores for p, r in runs.items()})))
    print()
    print(f"Targets (exact offsets): recall ≥ {MIN_RECALL}, precision ≥ {MIN_PRECISION} for "
          + ", ".join(STRICT) + f"; PERSON ≥ {PERSON_MIN_RECALL} / {PERSON_MIN_PRECISION}; the"
          " other entities are reported.")  # fmt: skip
    for label, (path, day) in MARKED_SETS.items():
        print_rules_vs_fused(
            f"Blind notes {label} of {day}, names and addresses marked",
            marked_notes(path),
            MARKED,
        )
    for name, notes in HELD_OUT_SETS.items():
        title = name.removesuffix("_NOTES").replace("_", "-").capitalize() + " notes"
        print_rules_vs_fused(title, make_corpus(args.held_out_n, args.seed, notes))
    if args.examples:
        for path, run in runs.items():
            for entity in STRICT:
                s = run.scores[entity]
                if s.recall < MIN_RECALL or s.precision < MIN_PRECISION:
                    report = failure_report(run.corpus, run.scores, run.found, entity)
                    print(f"\n[{path}] {report}")


if __name__ == "__main__":
    main()
