"""DP-SGD's clipped gradient sum for an MLP, without materialising per-sample gradients.

DP-SGD (Abadi et al. 2016) sums, over the rows of a batch, each row's loss
gradient clipped to norm C: ``Σᵢ min(1, C / ‖∇ℓᵢ‖) ∇ℓᵢ``. opacus's
``GradSampleModule`` builds every ∇ℓᵢ (a ``[B, out, in]`` tensor per
layer, through hooks and ``einsum``) and clips them one by one; on the
small MLPs of the ``train`` kind that, with opacus's per-row data loading,
made a DP-SGD epoch 3.8× a plain one.

For a ``Linear`` layer fed a batch of vectors, row i's gradient is the
outer product of two vectors: ``gᵢ aᵢᵀ`` for the weight and ``gᵢ`` for the
bias, with aᵢ the layer's input and gᵢ = ∂ℓᵢ/∂zᵢ the gradient of row i's
loss at the layer's output (Goodfellow 2015). So

- its norm needs no outer product: ``‖gᵢ aᵢᵀ‖_F² = ‖gᵢ‖² ‖aᵢ‖²``
  ("ghost clipping", Li et al. 2022; opacus's ``grad_sample_mode="ghost"``
  uses the same identity for ``Linear``);
- the clipped sum is one matrix product: ``Σᵢ cᵢ gᵢ aᵢᵀ = (c ⊙ G)ᵀ A``.

One forward pass keeps every aᵢ; one backward pass, written out for the
three pieces :func:`jobs.kinds.train.mlp.build` uses (cross-entropy:
softmax minus the one-hot label; ReLU: its 0/1 slope; tanh: 1 − tanh²),
gives every gᵢ row by row, as a batch; and two small matrix products per
layer give the clipped sum. Autograd would give the same gᵢ (row i of
∂(Σℓ)/∂z is ∂ℓᵢ/∂zᵢ) at a third more time per step, for building a graph
over the parameters that is never used. The result equals opacus's
per-sample clipping up to floating-point rounding, with its clip factor
``min(1, C / (‖∇ℓᵢ‖ + 1e-6))``; :func:`clipped_sum` refuses any other
network, for which neither the backward pass nor the identity is written.

References:
    Abadi, M. et al. (2016). Deep Learning with Differential Privacy. CCS.
    Goodfellow, I. (2015). Efficient Per-Example Gradient Computations. arXiv:1510.01799.
    Li, X., Tramèr, F., Liang, P., Hashimoto, T. (2022). Large Language Models
    Can Be Strong Differentially Private Learners. ICLR.
"""

from __future__ import annotations

from typing import Any

#: opacus's guard in its clip factor C / (‖∇ℓᵢ‖ + 1e-6): the same factor, not a near one.
_NORM_GUARD = 1e-6


def clipped_sum(net: Any, features: Any, labels: Any, max_grad_norm: float) -> list[Any]:
    """Σ over the batch of each row's cross-entropy gradient clipped to ``max_grad_norm``.

    Args:
        net: A ``torch.nn.Sequential`` of ``Linear`` layers, each but the last
            followed by ``ReLU`` or ``Tanh`` (:func:`jobs.kinds.train.mlp.build`).
        features: ``[B, inputs]`` float tensor; B may be 0 (an empty Poisson batch).
        labels: ``[B]`` class indices.
        max_grad_norm: C, the bound on each row's whole gradient (all layers).

    Returns:
        One tensor per parameter, in ``net.parameters()`` order, shaped like it:
        the clipped sum, with no noise and no division by the batch size.

    Raises:
        ValueError: ``net`` holds another kind of module.
    """
    import torch

    with torch.no_grad():
        linears, inputs, slopes, logits = _forward(net, features)
        # ∂ℓᵢ/∂logitsᵢ of row i's cross-entropy: softmax minus the one-hot label
        g = torch.softmax(logits, dim=1)
        g[torch.arange(g.shape[0]), labels] -= 1
        backprops = [g]
        for layer, slope in zip(reversed(linears[1:]), reversed(slopes), strict=True):
            g = (g @ layer.weight) * slope
            backprops.append(g)
        backprops.reverse()
        squared = torch.zeros(features.shape[0], dtype=features.dtype)
        for layer, a, g in zip(linears, inputs, backprops, strict=True):
            # the weight's ‖gᵢ‖²‖aᵢ‖², plus the bias's ‖gᵢ‖²
            squared += g.square().sum(dim=1) * (a.square().sum(dim=1) + (layer.bias is not None))
        factor = (max_grad_norm / (squared.sqrt() + _NORM_GUARD)).clamp(max=1.0)
        sums: list[Any] = []
        for layer, a, g in zip(linears, inputs, backprops, strict=True):
            scaled = g * factor[:, None]
            sums.append(scaled.T @ a)
            if layer.bias is not None:
                sums.append(scaled.sum(dim=0))
    return sums


def _forward(net: Any, features: Any) -> tuple[list[Any], list[Any], list[Any], Any]:
    """The Linear layers, their inputs, each activation's slope, and the logits.

    Raises:
        ValueError: A module other than Linear, ReLU, Tanh, or not alternating
            Linear and activation from a Linear to a Linear.
    """
    import torch

    linears: list[Any] = []
    inputs: list[Any] = []
    slopes: list[Any] = []
    h = features
    for layer in net:
        # alternating: a Linear first and last, one activation between two
        if isinstance(layer, torch.nn.Linear) and len(linears) == len(slopes):
            linears.append(layer)
            inputs.append(h)
            h = torch.nn.functional.linear(h, layer.weight, layer.bias)
        elif isinstance(layer, torch.nn.ReLU) and len(linears) == len(slopes) + 1:
            slope = h > 0
            h = h * slope
            slopes.append(slope)
        elif isinstance(layer, torch.nn.Tanh) and len(linears) == len(slopes) + 1:
            h = torch.tanh(h)
            slopes.append(1 - h.square())
        else:
            raise ValueError(
                "clipped_sum handles Linear layers with ReLU or Tanh between them only, "
                f"not {type(layer).__name__} here"
            )
    if not linears or len(linears) != len(slopes) + 1:
        raise ValueError("clipped_sum needs a network that starts and ends with a Linear layer")
    return linears, inputs, slopes, h


def dp_optimizer(inner: Any, **options: Any) -> Any:
    """opacus's ``DPOptimizerFastGradientClipping`` over ``inner``, for one clipped sum per step.

    Its ``step`` adds the secure-mode noise to ``p.grad``, divides by the
    expected batch and calls the accountant's hook, as ``DPOptimizer`` does
    after its own clipping; the caller sets ``p.grad`` to :func:`clipped_sum`.
    opacus deep-copies ``p.grad`` to accumulate several batches per step; with
    one batch per step and a fresh tensor each time the copy only costs time
    (a fifth of a step on the demo MLP), so the sum is taken as it is.

    Args:
        inner: The torch optimizer (Adam, SGD) over the network's parameters.
        **options: ``DPOptimizerFastGradientClipping``'s keyword arguments.
    """
    from opacus.optimizers import DPOptimizerFastGradientClipping

    class _OneBatchPerStep(DPOptimizerFastGradientClipping):  # type: ignore[misc]
        def accumulate(self) -> None:
            for p in self.params:
                p.summed_grad = p.grad

    return _OneBatchPerStep(inner, **options)
