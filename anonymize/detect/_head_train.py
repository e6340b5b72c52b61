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
from anonymize.detect._minority import SYLLABLES, YI_CLANS
from anonymize.detect._names import COMPOUND_SURNAMES, RARER_SURNAMES, SURNAMES
from anonymize.detect.entities import person

log = logging.getLogger(__name__)

#: One training note: its features (characters, inputs) and tag ids (characters,).
Example = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]
#: One marked note: its text and its ``(start, end, entity)`` marks.
Marked = tuple[str, list[tuple[int, int, str]]]


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


def name_kind(name: str) -> str:
    """What a marked name is, to put one of its kind in its place: ``minority``,
    ``compound`` (a two-character surname), ``han`` (a surname and a given name) or ``given``.

    As the shipped weights were trained: a Han name that opens with a minority syllable
    or a Yi clan (马海涛, 孟和平) counts as ``minority`` and gets a minority name in its
    place; the head then sees one minority name more and one Han name fewer.

    >>> [name_kind(n) for n in ("阿依古丽·买买提", "欧阳娜娜", "王建国", "子涵")]
    ['minority', 'compound', 'han', 'given']
    """
    if "·" in name or any(name.startswith(s) for s in (*SYLLABLES, *YI_CLANS) if len(s) > 1):
        return "minority"
    if name[:2] in COMPOUND_SURNAMES:
        return "compound"
    if len(name) >= 2 and name[0] in SURNAMES and len(name) <= 3:
        return "han"
    return "given"


class Renamer:
    """Other names in the marked names' places, so the head sees more surnames (the rare
    ones: 宓, 訾, 令狐), given names and minority names than a few thousand notes hold,
    each against the same words around it (辩称, 可申请 after a name of any length).

    Given names are drawn from the characters of the marked names' given names; surnames
    from the rules' and fusion's lists (half from the 100 most frequent, half from all of
    them); minority names from their syllables (:mod:`anonymize.detect._minority`).
    """

    def __init__(self, notes: Sequence[Marked], seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        chars: list[str] = []
        for text, spans in notes:
            for start, end, entity in spans:
                name = text[start:end]
                kind = name_kind(name)
                if entity == person.NAME and kind in ("han", "given"):
                    chars.extend(c for c in name[1 if kind == "han" else 0 :] if c.isalpha())
        self.given = chars
        self.syllables = [s for s in SYLLABLES if len(s) > 1]
        self.surnames = sorted(set(SURNAMES) | set(RARER_SURNAMES))

    def _pick(self, items: Sequence[str]) -> str:
        return items[int(self.rng.integers(len(items)))]

    def _given(self) -> str:
        if self.rng.random() < 0.08:
            return self._pick(self.given) * 2  # 甜甜, 多多
        n = 1 if self.rng.random() < 0.25 else 2
        return "".join(self._pick(self.given) for _ in range(n))

    def name(self, kind: str) -> str:
        """A new name of a kind (:func:`name_kind`)."""
        if kind == "han":
            pool = SURNAMES[:100] if self.rng.random() < 0.5 else self.surnames
            return self._pick(pool) + self._given()
        if kind == "compound":
            return self._pick(COMPOUND_SURNAMES) + self._given()
        if kind == "given":
            return self._given()
        if self.rng.random() < 0.2:
            return self._pick(YI_CLANS) + self._given()
        name = "".join(self._pick(self.syllables) for _ in range(int(self.rng.integers(1, 3))))
        if self.rng.random() < 0.4:
            name += "·" + self._pick(self.syllables)
        return name

    def renamed(self, text: str, spans: Sequence[tuple[int, int, str]]) -> Marked:
        """A marked note with every marked name replaced, the same name by the same new one
        (a new name is drawn for each mark, kept only for the first: the draws the shipped
        weights were trained with).

        >>> renamer = Renamer([("王建国说", [(0, 3, "PERSON")])], seed=1)
        >>> marks = [(0, 3, "PERSON"), (6, 9, "PERSON")]
        >>> text, spans = renamer.renamed("王建国来了，王建国说", marks)
        >>> new = text[spans[0][0] : spans[0][1]]
        >>> text == f"{new}来了，{new}说" and new[0] in renamer.surnames and new != "王建国"
        True
        """
        new: dict[str, str] = {}
        out, marks, pos = "", [], 0
        for start, end, entity in sorted(spans):
            out += text[pos:start]
            part = text[start:end]
            if entity == person.NAME:
                part = new.setdefault(part, self.name(name_kind(part)))
            marks.append((len(out), len(out) + len(part), entity))
            out += part
            pos = end
        return out + text[pos:], marks
