"""The span head: names and addresses read by a small network trained on marked notes.

Not API; :class:`anonymize.detect.tagger.Tagger` runs it inside the encoder's graph
and :func:`anonymize.detect.fusion.fuse` adds its spans to the rules' and LAC's.

LAC tags words: a person (``PER``), a place (``LOC``). An address in a note is many
words (a district, a street, a number, an estate, a building, a room), and the
names the rules and LAC miss are a given name alone in a chat, a name that is also
a word, a rare surname: what no list holds. The head reads what LAC already
computed for every character (its second GRU layer's states, 2 × 128, and its 59
tag scores) with a bidirectional GRU of :data:`HIDDEN`, a linear layer to five tags
(:data:`TAGS`) and a CRF with start and end scores. It is built into the encoder's
graph as LAC's own layers are (:func:`append`: a ``Scan`` with 8-bit integer products
where the encoder is quantized, its input product over the scores folded into the
states'): the encoder runs once for both.

Trained by ``tools/train_span_head.py`` on the marked note sets
(``tests/data/blind_notes_*.txt``, each once a blind set: the 29 sets A–AC, 3,480
notes, about 9,000 names and 3,000 addresses; the later sets kept out to score it),
each note once as written and once with other names in its names' places
(:class:`anonymize.detect._head_train.Renamer`), features from the int8 encoder read
sentence by sentence as the tagger reads them. Its weights
(:data:`WEIGHTS`, ONNX's layout) are what that script wrote; the README's accuracy
tables give what it reads on sets it was not trained on.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from anonymize.detect._viterbi import viterbi
from anonymize.detect.entities import address, person

#: The head's tags, by id: ``O``, then ``-B`` and ``-I`` of ``PERSON`` and of ``CN_ADDRESS``.
TAGS = ("O", *(f"{name}-{part}" for name in (person.NAME, address.NAME) for part in "BI"))
#: The entities it reads, by the id of their ``-B`` tag.
_OPENS = {1: person.NAME, 3: address.NAME}
#: Its GRU's hidden size.
HIDDEN = 96
#: The width of LAC's second layer's states, the first of the head's inputs (its 59 tag
#: scores follow).
STATES = 256
#: The trained weights (``tools/train_span_head.py`` writes them).
WEIGHTS = Path(__file__).with_name("span_head.npz")
#: The arrays a weights file holds, in ONNX's layout (gates z, r, n; H = :data:`HIDDEN`):
#: ``W`` (2, 3H, inputs), ``R`` (2, 3H, H), ``B`` (2, 6H), ``linear_w`` (2H, 5),
#: ``linear_b`` (5,), ``transitions`` (5, 5), ``start`` (5,), ``end`` (5,).
ARRAYS = ("W", "R", "B", "linear_w", "linear_b", "transitions", "start", "end")


class Learned(NamedTuple):
    """One span the head reads: ``text[start:end]``, its entity, and for a name the
    CRF's probability of it, edges included (:func:`confidence`; 1.0 for an address)."""

    start: int
    end: int
    entity: str
    p: float


@functools.cache
def weights(path: Path = WEIGHTS) -> dict[str, npt.NDArray[np.float32]]:
    """The head's weights, loaded once.

    Raises:
        RuntimeError: The file lacks an array or an array has the wrong shape.
    """
    with np.load(path) as loaded:
        out = {
            name: np.asarray(loaded[name], dtype=np.float32) for name in ARRAYS if name in loaded
        }
    hidden = out["R"].shape[-1] if "R" in out else 0
    shapes = {
        "W": (2, 3 * hidden, out["W"].shape[-1] if "W" in out else 0),
        "R": (2, 3 * hidden, hidden),
        "B": (2, 6 * hidden),
        "linear_w": (2 * hidden, len(TAGS)),
        "linear_b": (len(TAGS),),
        "transitions": (len(TAGS), len(TAGS)),
        "start": (len(TAGS),),
        "end": (len(TAGS),),
    }
    if set(out) != set(ARRAYS) or any(out[n].shape != s for n, s in shapes.items()):
        raise RuntimeError(f"{path.name} is not a span head's weights")
    return out


def append(
    graph: Any,
    states: str,
    linear: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    head: dict[str, npt.NDArray[np.float32]],
) -> str:
    """Add the head to an encoder graph being built (``_encoder._Graph``), built as LAC's
    second layer is (:func:`anonymize.detect._encoder.recurrent`).

    LAC's tag scores are its linear layer over the states (``states @ w + b``), so the
    head's input product over states and scores is one product over the states:
    ``states @ (W_states + w @ W_scores) + b @ W_scores``. That product and every
    recurrent one are in 8-bit integers where the graph is quantized (the states and
    the head's own GRU states keep within [-1, 1]: LAC's fixed scale).

    Args:
        graph: The graph; it has the ``length`` input.
        states: The name of LAC's second layer's states, (steps, batch, :data:`STATES`).
        linear: LAC's linear layer, ``w`` (:data:`STATES`, 59) and ``b`` (59,).
        head: :func:`weights`.

    Returns:
        The name of the head's scores, (batch, steps, 5).
    """
    from anonymize.detect import _encoder

    W, R, B = head["W"], head["R"], head["B"]
    w, b = (np.asarray(a, dtype=np.float64) for a in linear)
    if W.shape[2] != STATES + w.shape[1]:
        raise RuntimeError("the span head's weights do not read this encoder's states and scores")
    both = [
        np.concatenate([W[0][:, part].T, W[1][:, part].T], axis=1).astype(np.float64)
        for part in (slice(0, STATES), slice(STATES, None))
    ]  # (inputs, 2 × 3H) fmt: skip
    folded = (both[0] + w @ both[1]).astype(np.float32)
    bias = (_encoder.gate_bias(B).reshape(-1) + b @ both[1]).astype(np.float32)
    graph.product(states, folded, "head_in", "head_p", bias=bias)
    x = _encoder.directions(graph, "head", "head_in", int(R.shape[-1]))
    _encoder.recurrent(graph, "head", x, R, B, "head_h")  # (steps, batch, 2H)
    graph.node("MatMul", ["head_h", graph.const("head_lw", head["linear_w"])], ["head_l"])
    graph.node("Add", ["head_l", graph.const("head_lb", head["linear_b"])], ["head_t"])
    graph.node("Transpose", ["head_t"], ["head"], perm=[1, 0, 2])
    return "head"


def decode(
    emissions: npt.NDArray[np.float32],
    lengths: npt.NDArray[np.int64],
    head: dict[str, npt.NDArray[np.float32]],
) -> npt.NDArray[np.int64]:
    """The best tag path of each row under the head's CRF (start and end scores folded
    into the first and the last character's scores, then :func:`viterbi`)."""
    folded = emissions.copy()
    rows = np.arange(len(lengths))
    folded[:, 0, :] += head["start"]
    folded[rows, lengths - 1, :] += head["end"]
    return viterbi(folded, head["transitions"], lengths)


def read(
    emissions: npt.NDArray[np.float32],
    lengths: npt.NDArray[np.int64],
    head: dict[str, npt.NDArray[np.float32]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The head's tag paths (:func:`decode`) and its names' probabilities
    (:func:`confidence`)."""
    paths = decode(emissions, lengths, head)
    return paths, confidence(emissions, lengths, head, paths)


def _logsumexp(x: npt.NDArray[np.float64], axis: int) -> npt.NDArray[np.float64]:
    peak = x.max(axis=axis, keepdims=True)
    out: npt.NDArray[np.float64] = (
        peak + np.log(np.exp(x - peak).sum(axis, keepdims=True))
    ).squeeze(axis)
    return out


def confidence(
    emissions: npt.NDArray[np.float32],
    lengths: npt.NDArray[np.int64],
    head: dict[str, npt.NDArray[np.float32]],
    paths: npt.NDArray[np.int64],
) -> npt.NDArray[np.float32]:
    """The CRF's probability of each name of the decoded paths, at the name's first
    character (0 elsewhere): that these characters and no others are one name, its edges
    included (the forward and backward sums, vectorized over the rows holding a name).

    The head reads about half its names at 0.99 and more, seven in eight at 0.9 (the
    marked sets AA and AB); where it hesitates between edges
    (骆宾|辩称 or 骆宾辩|称) the probability falls, and fusion takes its edges over
    LAC's only where it is sure (:data:`anonymize.detect.fusion.HEAD_SURE`).
    """
    out = np.zeros(paths.shape, dtype=np.float32)
    rows = np.flatnonzero((paths == 1).any(axis=1))
    if not len(rows):
        return out
    n = lengths[rows]
    steps, name, inside = int(n.max()), 1, 2
    em = emissions[rows, :steps].astype(np.float64)
    T, start, end = (head[k].astype(np.float64) for k in ("transitions", "start", "end"))
    # The sums in probabilities, each step's scaled to 1 and the scales' logs summed (a
    # product of 5 × 5 a step instead of a log-sum-exp of 25 terms a row); written as
    # sums, not ``@``: a BLAS may round one row alone otherwise than in a batch.
    peak = em.max(axis=2)
    chance, moves = np.exp(em - peak[:, :, None]), np.exp(T)
    alpha = np.empty_like(em)  # logs
    forward, log_scale = np.exp(start) * chance[:, 0], peak[:, 0].copy()
    for i in range(steps):
        if i:
            forward = (forward[:, :, None] * moves).sum(axis=1) * chance[:, i]
            log_scale += peak[:, i]
        scale = forward.sum(axis=1, keepdims=True)
        forward = forward / scale
        log_scale += np.log(scale[:, 0])
        alpha[:, i] = np.log(forward) + log_scale[:, None]
    beta = np.empty_like(em)  # logs; a row's last character and after: its end scores
    final, final_log = np.exp(end) / np.exp(end).sum(), np.log(np.exp(end).sum())
    backward, log_scale = np.tile(final, (len(rows), 1)), np.full(len(rows), final_log)
    beta[:, -1] = end
    for i in range(steps - 2, -1, -1):
        backward = (moves * (chance[:, i + 1] * backward)[:, None, :]).sum(axis=2)
        scale = backward.sum(axis=1, keepdims=True)
        backward = backward / scale
        log_scale += np.log(scale[:, 0]) + peak[:, i + 1]
        ended = i >= n - 1
        backward[ended], log_scale[ended] = final, final_log
        beta[:, i] = np.log(backward) + log_scale[:, None]
    total = _logsumexp(alpha[np.arange(len(rows)), n - 1] + end, 1)
    # Every name at once: row k, first character a, end b (the first character after a
    # that is no -I of a name; past a row's length the paths are 0).
    k, a = np.nonzero(paths[rows, :steps] == name)
    idx = np.where(paths[rows, :steps] == inside, steps, np.arange(steps))
    after = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
    b = np.concatenate([after, np.full((len(rows), 1), steps)], axis=1)[k, a + 1]
    opened = _logsumexp(alpha[k, np.maximum(a - 1, 0)] + T[:, name], 1)
    score = np.where(a > 0, opened, start[name]) + em[k, a, name]
    summed = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(em[:, :, inside], axis=1)], 1)
    score += summed[k, b] - summed[k, a + 1]
    score += np.where(b - a > 1, T[name, inside] + (b - a - 2) * T[inside, inside], 0.0)
    last = np.where(b - a > 1, inside, name)
    at = np.minimum(b, steps - 1)
    nxt = T[last] + em[k, at] + beta[k, at]  # the next character opens no more of it
    nxt[:, inside] = -np.inf
    score += np.where(b < n[k], _logsumexp(nxt, 1), end[last])
    out[rows[k], a] = np.exp(score - total[k])
    return out


def spans(tags: npt.NDArray[np.int64]) -> list[tuple[int, int, str]]:
    """The ``(start, end, entity)`` spans of a tag path: a ``-B`` tag and the ``-I`` tags
    of its entity after it (an ``-I`` without its ``-B`` opens nothing).

    >>> spans(np.array([0, 1, 2, 0, 3, 4, 4, 2]))
    [(1, 3, 'PERSON'), (4, 7, 'CN_ADDRESS')]
    """
    out: list[tuple[int, int, str]] = []
    opens = np.flatnonzero((tags == 1) | (tags == 3))
    n = len(tags)
    for start in opens.tolist():
        inside = int(tags[start]) + 1
        end = start + 1
        while end < n and tags[end] == inside:
            end += 1
        out.append((start, end, _OPENS[int(tags[start])]))
    return out


def placed(
    text: str,
    offset: int,
    tags: npt.NDArray[np.int64],
    sure: npt.NDArray[np.float32] | None = None,
) -> list[Learned]:
    """The spans of a part of ``text`` read from ``offset`` on, placed in ``text``, white
    space trimmed off both ends (the head, trained on one-line notes, may read a line's
    break into an address); a name's probability from ``sure`` (:func:`confidence`, at
    its first character).

    >>> placed("住址：白云区宜都街5号  电话", 3, np.array([3, 4, 4, 4, 4, 4, 4, 4, 4]))
    [Learned(start=3, end=11, entity='CN_ADDRESS', p=1.0)]
    """
    out = []
    for s, e, entity in spans(tags):
        piece = text[offset + s : offset + e]
        start = offset + s + len(piece) - len(piece.lstrip())
        end = offset + e - len(piece) + len(piece.rstrip())
        if start < end:
            p = float(sure[s]) if sure is not None and entity == person.NAME else 1.0
            out.append(Learned(start, end, entity, p))
    return out
