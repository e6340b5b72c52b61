"""Training the span head (:mod:`anonymize.detect._head`) with torch.

Not API, and never imported at run time: ``tools/train_span_head.py`` calls it
with the marked note sets. A bidirectional GRU over LAC's states and scores, a
linear layer and a CRF (start, end and transition scores) trained by the CRF's
negative log-likelihood (Adam, dropout 0.2 on the GRU's input and output);
:func:`to_onnx_layout` turns its parameters into the arrays
:func:`anonymize.detect._head.weights` reads.

torch is here because the project already depends on it (opacus); the CRF is
written out (40 lines) because torch has none and the one package that has,
``pytorch-crf``, is unmaintained since 2020.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from anonymize.detect._head import HIDDEN, TAGS

log = logging.getLogger(__name__)

#: One training note: its features (characters, inputs) and tag ids (characters,).
Example = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]


def tag_ids(length: int, spans: Sequence[tuple[int, int, str]]) -> npt.NDArray[np.int64]:
    """The head's tag id of each character from marked spans (others ``O``).

    >>> tag_ids(6, [(1, 3, "PERSON"), (3, 5, "CN_ADDRESS")]).tolist()
    [0, 1, 2, 3, 4, 0]
    """
    out = np.zeros(length, dtype=np.int64)
    for start, end, entity in spans:
        opens = TAGS.index(f"{entity}-B")
        out[start] = opens
        out[start + 1 : end] = opens + 1
    return out


def _model(inputs: int, hidden: int) -> Any:
    import torch
    from torch import nn

    class Crf(nn.Module):
        def __init__(self, n: int) -> None:
            super().__init__()
            self.transitions = nn.Parameter(torch.zeros(n, n))
            self.start = nn.Parameter(torch.zeros(n))
            self.end = nn.Parameter(torch.zeros(n))

        def nll(self, em: Any, y: Any, mask: Any) -> Any:
            """Negative log-likelihood of the tag paths ``y`` (batch, steps)."""
            steps = em.shape[1]
            score = self.start[y[:, 0]] + em[:, 0].gather(1, y[:, :1]).squeeze(1)
            alpha = self.start + em[:, 0]
            for i in range(1, steps):
                m = mask[:, i]
                step = self.transitions[y[:, i - 1], y[:, i]]
                step = step + em[:, i].gather(1, y[:, i : i + 1]).squeeze(1)
                score = torch.where(m, score + step, score)
                moved = alpha[:, :, None] + self.transitions[None] + em[:, i, None, :]
                alpha = torch.where(m[:, None], torch.logsumexp(moved, dim=1), alpha)
            last = y.gather(1, (mask.sum(1) - 1)[:, None]).squeeze(1)
            score = score + self.end[last]
            return (torch.logsumexp(alpha + self.end, 1) - score).sum()

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.GRU(inputs, hidden, batch_first=True, bidirectional=True)
            self.out = nn.Linear(2 * hidden, len(TAGS))
            self.drop = nn.Dropout(0.2)
            self.crf = Crf(len(TAGS))

        def forward(self, x: Any, lengths: Any) -> Any:
            packed = nn.utils.rnn.pack_padded_sequence(
                self.drop(x), lengths, batch_first=True, enforce_sorted=False
            )
            y, _ = self.rnn(packed)
            y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
            return self.out(self.drop(y))

    return Head()


def train(
    examples: Sequence[Example],
    *,
    epochs: int = 15,
    hidden: int = HIDDEN,
    seed: int = 0,
    batch: int = 32,
    progress: Callable[[int, float], None] | None = None,
) -> dict[str, npt.NDArray[np.float32]]:
    """Train a head on the examples; its weights in ONNX's layout (:func:`to_onnx_layout`).

    Args:
        examples: The notes' features and tags.
        epochs: Passes over the examples.
        hidden: The GRU's hidden size.
        seed: Seeds the initial weights, the dropout and the order of the batches.
        batch: Notes per step (padded to the longest).
        progress: Called after each epoch with its number and mean loss per character.
    """
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    inputs = int(examples[0][0].shape[1])
    model = _model(inputs, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(examples))
        total, characters = 0.0, 0
        for b in range(0, len(order), batch):
            chosen = [examples[i] for i in order[b : b + batch]]
            steps = max(len(y) for _, y in chosen)
            x = np.zeros((len(chosen), steps, inputs), dtype=np.float32)
            y = np.zeros((len(chosen), steps), dtype=np.int64)
            mask = np.zeros((len(chosen), steps), dtype=bool)
            for j, (features, tags) in enumerate(chosen):
                x[j, : len(tags)], y[j, : len(tags)], mask[j, : len(tags)] = features, tags, True
            xt, yt, mt = torch.tensor(x), torch.tensor(y), torch.tensor(mask)
            loss = model.crf.nll(model(xt, mt.sum(1)), yt, mt)
            optimizer.zero_grad()
            (loss / mt.sum()).backward()
            optimizer.step()
            total, characters = total + float(loss.detach()), characters + int(mask.sum())
        if progress is not None:
            progress(epoch, total / max(characters, 1))
    return to_onnx_layout(model.state_dict())


def to_onnx_layout(state: dict[str, Any]) -> dict[str, npt.NDArray[np.float32]]:
    """A trained head's parameters as ONNX's GRU reads them.

    torch orders a GRU's gates r, z, n and keeps the input and recurrent biases
    apart; ONNX orders them z, r, n and puts both biases in one ``B``. torch's
    new gate, tanh(W_n x + b_in + r ⊙ (R_n h + b_hn)), is ONNX's with
    ``linear_before_reset=1``.
    """

    def gates(a: Any) -> npt.NDArray[np.float32]:
        a = np.asarray(a.detach().cpu().numpy(), dtype=np.float32)
        r, z, n = np.split(a, 3, axis=0)
        return np.concatenate([z, r, n], axis=0)

    directions = ("", "_reverse")
    return {
        "W": np.stack([gates(state[f"rnn.weight_ih_l0{d}"]) for d in directions]),
        "R": np.stack([gates(state[f"rnn.weight_hh_l0{d}"]) for d in directions]),
        "B": np.stack(
            [
                np.concatenate(
                    [gates(state[f"rnn.bias_ih_l0{d}"]), gates(state[f"rnn.bias_hh_l0{d}"])]
                )
                for d in directions
            ]
        ),
        "linear_w": np.ascontiguousarray(state["out.weight"].detach().numpy().T, dtype=np.float32),
        "linear_b": state["out.bias"].detach().numpy().astype(np.float32),
        "transitions": state["crf.transitions"].detach().numpy().astype(np.float32),
        "start": state["crf.start"].detach().numpy().astype(np.float32),
        "end": state["crf.end"].detach().numpy().astype(np.float32),
    }
