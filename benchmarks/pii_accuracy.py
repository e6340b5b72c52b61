"""PII detection accuracy of both paths on the seeded ground-truth corpus, as markdown.

    python benchmarks/pii_accuracy.py [--vector-n N] [--presidio-n N] [--seed S] [--examples]

Prints per-entity support, TP/FP/FN, precision and recall (exact offsets)
and the overlap figures for the vectorized path (``anonymize.vector``) and the
Presidio path (``anonymize.analyzer``); these are the README's figures. A
further tables score both paths on held-out notes (``tests.corpus``'s
``HELD_OUT_NOTES``, ``UNSEEN_NOTES``, ``INDEPENDENT_NOTES``, ``BLIND_NOTES``,
``LAST_NOTES``, ``SIXTH_NOTES``: names in places the name rules were not written
for; the last four were written by helpers who never saw the rules).
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
    BLIND_NOTES,
    HELD_OUT_NOTES,
    INDEPENDENT_NOTES,
    LAST_NOTES,
    SIXTH_NOTES,
    UNSEEN_NOTES,
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
    failure_report,
    markdown,
    table_of,
)


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
    held_out = (
        ("Held-out notes", HELD_OUT_NOTES),
        ("Unseen notes", UNSEEN_NOTES),
        ("Independent notes", INDEPENDENT_NOTES),
        ("Blind notes", BLIND_NOTES),
        ("Last notes", LAST_NOTES),
        ("Sixth notes", SIXTH_NOTES),
    )
    for title, notes in held_out:
        held = {p: evaluate(p, args.held_out_n, args.seed, notes) for p in runs}
        print(f"\n{title} ({args.held_out_n:,} texts, both paths):\n")
        scores = table_of({p: r.scores for p, r in held.items()})
        print(markdown(scores.filter(pl.col("support") > 0)))
    if args.examples:
        for path, run in runs.items():
            for entity in STRICT:
                s = run.scores[entity]
                if s.recall < MIN_RECALL or s.precision < MIN_PRECISION:
                    report = failure_report(run.corpus, run.scores, run.found, entity)
                    print(f"\n[{path}] {report}")


if __name__ == "__main__":
    main()
