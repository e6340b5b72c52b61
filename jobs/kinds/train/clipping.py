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

One forward pass keeps every aᵢ, one backward pass of the summed loss gives
every gᵢ (the loss is a sum of per-row losses, so row i of ∂(Σℓ)/∂z is
∂ℓᵢ/∂zᵢ), and two small matrix products per layer give the clipped sum.
The result equals opacus's per-sample clipping up to floating-point
rounding, with its clip factor ``min(1, C / (‖∇ℓᵢ‖ + 1e-6))``; the
activations between layers have no parameters, and :func:`clipped_sum`
refuses a network with any other parametrised module, for which the
identity would not hold.

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
        net: A ``torch.nn.Sequential`` of ``Linear`` layers and parameter-free
            activations (:func:`jobs.kinds.train.mlp.build`).
        features: ``[B, inputs]`` float tensor; B may be 0 (an empty Poisson batch).
        labels: ``[B]`` class indices.
        max_grad_norm: C, the bound on each row's whole gradient (all layers).

    Returns:
        One tensor per parameter, in ``net.parameters()`` order, shaped like it:
        the clipped sum, with no noise and no division by the batch size.

    Raises:
        ValueError: ``net`` holds a parametrised module other than ``Linear``.
    """
    import torch

    linears: list[Any] = []
    inputs: list[Any] = []
    outputs: list[Any] = []
    h = features
    for layer in net:
        if isinstance(layer, torch.nn.Linear):
            linears.append(layer)
            inputs.append(h)
            h = layer(h)
            outputs.append(h)
        elif any(True for _ in layer.parameters()):
            raise ValueError(f"clipped_sum handles Linear layers only, not {type(layer).__name__}")
        else:
            h = layer(h)
    loss = torch.nn.functional.cross_entropy(h, labels, reduction="sum")
    backprops = torch.autograd.grad(loss, outputs)
    with torch.no_grad():
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
