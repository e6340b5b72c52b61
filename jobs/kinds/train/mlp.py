"""DP-SGD for the ``mlp`` model: ghost clipping, opacus noise and RDP accounting, safetensors.

Privacy accounting is fixed *before* the job runs, from public values only:
the sample rate is q = ``batch_size / rows`` with ``rows`` the catalogued
row count, and the job takes ``epochs · ⌊1/q⌋`` steps (opacus's Poisson
sampler takes ⌊1/q⌋ steps per epoch). Each step samples every training row
independently with probability q, so the sampled Gaussian mechanism's
guarantee depends only on (σ, q, steps), never on how many rows the
training part really has. opacus's RDP accountant turns (σ, q, steps, δ)
into ε (Mironov 2017; Mironov, Talwar, Zhang 2019); the same numbers give
the same ε at estimate and at run time.

The (ε, δ) statement is charged as ``Charge(epsilon=ε, delta=δ)``: the
grant's accountant (:mod:`jobs.dp.accounting`) composes it as an
approximate-DP part, basic composition of (ε, δ) statements, or as
δ-approximate ε²/2-zCDP (Bun & Steinke 2016, §8), whichever is tighter.

The pieces are put together here rather than through
``PrivacyEngine.make_private``: the engine derives the sample rate and the
expected batch size from the data loader (the size of the training part,
which is not public), while here both come from the catalogued row count.

Each step releases the same function of the batch as opacus's
``GradSampleModule`` + ``DPOptimizer`` (the path taken until issue 18):
``(Σᵢ min(1, C / (‖∇ℓᵢ‖ + 1e-6)) ∇ℓᵢ + N(0, σ²C²I)) / batch_size``, with the
batch a Poisson sample at rate q drawn as opacus's sampler draws it, the
noise from opacus's ``secure_mode`` sampler (robust to floating-point
attacks) through its optimizer, and the accountant fed by the same hook. Only
the clipped sum is computed differently: by ghost clipping
(:mod:`jobs.kinds.train.clipping`), exact for the MLP's ``Linear`` layers,
instead of building each row's gradient. Each row still moves the sum by at
most C, so (σ, q, steps) and hence ε are unchanged; with the same seed the
weights equal opacus's path's to float rounding (a test checks it).

Where the time went (``benchmarks/dpsgd.py``): opacus's per-sample hooks
and its row-by-row data loader, 4× the clipped sum's cost; not the noise.
Now a DP-SGD epoch costs about what a plain torch epoch with a
``DataLoader`` does and twice one without (CPU seconds; it also takes
⌊1/q⌋ steps to the plain epoch's ⌈n/B⌉). The secure-mode noise is now the
largest part beyond plain training, about a fifth of a step: five draws
per parameter tensor, kept as opacus makes them.

Weights leave as safetensors (tensors and a string header, never a
pickle); :func:`predict` runs the network from that file with numpy alone.

References:
    Abadi, M. et al. (2016). Deep Learning with Differential Privacy. CCS.
    Mironov, I. (2017). Rényi Differential Privacy. CSF.
    Mironov, I., Talwar, K., Zhang, L. (2019). Rényi Differential Privacy of
    the Sampled Gaussian Mechanism.
    Bun, M., Steinke, T. (2016). Concentrated Differential Privacy. TCC.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jobs.errors import InvalidJobSpec
from jobs.kinds.train import clipping as _clipping
from jobs.kinds.train.spec import MLPModel

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DpsgdPlan:
    """The privacy side of a DP-SGD run, fixed before it starts.

    Attributes:
        sample_rate: Poisson sampling probability q per step.
        steps: Number of noisy gradient steps.
        noise_multiplier: σ, noise standard deviation over the clipping norm.
        epsilon: ε of (ε, δ) per opacus's RDP accountant.
        delta: δ.
    """

    sample_rate: float
    steps: int
    noise_multiplier: float
    epsilon: float
    delta: float


@contextmanager
def _quiet_accountant() -> Iterator[None]:
    """Silence the RDP accountant's note that a larger Rényi order might be tighter.

    The ε it returns is a valid bound either way (the note fires while
    opacus's σ search tries very large σ); the default orders are kept so
    that the ε is exactly what opacus's accountant states.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Optimal order is the largest alpha", category=UserWarning
        )
        yield


def rdp_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """ε that opacus's RDP accountant states for ``steps`` sampled Gaussian steps."""
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    with _quiet_accountant():
        return float(accountant.get_epsilon(delta=delta))


def plan(model: MLPModel, epsilon: float, delta: float, rows: int) -> DpsgdPlan:
    """Sample rate, steps, σ and ε of a DP-SGD job over ``rows`` catalogued rows.

    Without a ``noise_multiplier`` the smallest σ (opacus's search, to 0.01
    in ε) whose ε stays within ``epsilon`` is used; with one, its ε is computed.

    Raises:
        InvalidJobSpec: The batch is not smaller than the dataset, or the
            given noise multiplier spends more than ``epsilon``.
    """
    if model.batch_size >= rows:
        raise InvalidJobSpec(
            f"batch_size must be smaller than the dataset's public row count (about {rows}): "
            "lower batch_size, or train on a larger dataset"
        )
    sample_rate = model.batch_size / rows
    steps = model.epochs * steps_per_epoch(sample_rate)
    sigma = model.noise_multiplier
    if sigma is None:
        from opacus.accountants.utils import get_noise_multiplier

        with _quiet_accountant():
            sigma = float(
                get_noise_multiplier(
                    target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate,
                    steps=steps, accountant="rdp",
                )
            )  # fmt: skip
    spent = rdp_epsilon(sigma, sample_rate, steps, delta)
    if spent > epsilon:
        raise InvalidJobSpec(
            f"noise_multiplier {sigma:g} spends epsilon={spent:.4g} over {steps} steps, more "
            f"than the job's epsilon={epsilon:g}; raise noise_multiplier, lower epochs, "
            "or omit noise_multiplier to have it computed from epsilon"
        )
    return DpsgdPlan(sample_rate, steps, sigma, spent, delta)


def train(
    model: MLPModel,
    x: FloatArray,
    y: npt.NDArray[np.int64],
    n_classes: int,
    dpsgd: DpsgdPlan,
    seed: int,
) -> tuple[dict[str, FloatArray], float]:
    """Train the MLP with DP-SGD; return its weights and the accountant's ε after the run.

    Args:
        model: Architecture and hyper-parameters.
        x: Encoded training inputs in [0, 1].
        y: Class indices.
        n_classes: Number of declared classes (the output width).
        dpsgd: The plan fixed by :func:`plan`.
        seed: Seeds the sampler, the initialisation and the noise (one
            generator for sampler and noise, as with opacus's data loader).

    Returns:
        Weights by name (``layers.0.weight`` ...) and the ε opacus's RDP
        accountant reports for the steps actually taken.
    """
    import torch
    from opacus.accountants import RDPAccountant

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = build(model, x.shape[1], n_classes)
    features = torch.from_numpy(x).float()
    labels = torch.from_numpy(y).long()
    inner = (
        torch.optim.Adam(net.parameters(), lr=model.learning_rate)
        if model.optimizer == "adam"
        else torch.optim.SGD(net.parameters(), lr=model.learning_rate)
    )
    # Takes the clipped sum as p.grad, then adds opacus's secure-mode noise and
    # divides by the expected batch, exactly as DPOptimizer does after its own clipping.
    optimizer = _clipping.dp_optimizer(
        inner,
        noise_multiplier=dpsgd.noise_multiplier,
        max_grad_norm=model.max_grad_norm,
        # Public: the expected batch over the catalogued rows, not the training part's size.
        expected_batch_size=model.batch_size,
        generator=generator,
        secure_mode=True,
    )
    accountant = RDPAccountant()
    optimizer.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=dpsgd.sample_rate))
    params = list(net.parameters())
    net.train()
    threads = torch.get_num_threads()
    # A small MLP gains nothing from intra-op threads (3x slower with 2 on 2 busy cores);
    # Ray gives a task one CPU anyway.
    torch.set_num_threads(1)
    try:
        for _ in range(dpsgd.steps):
            # opacus's Poisson sampler (UniformWithReplacementSampler): every row
            # in independently with probability q, the same draw from the same generator.
            chosen = torch.rand(features.shape[0], generator=generator) < dpsgd.sample_rate
            rows = chosen.nonzero().squeeze(1)  # once for both tensors: half the sampling time
            optimizer.zero_grad()
            sums = _clipping.clipped_sum(
                net, features.index_select(0, rows), labels.index_select(0, rows),
                model.max_grad_norm,
            )  # fmt: skip
            for param, summed in zip(params, sums, strict=True):
                param.grad = summed
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    weights = {
        name: tensor.detach().numpy().astype(np.float64)
        for name, tensor in net.state_dict().items()
    }
    with _quiet_accountant():
        reported = float(accountant.get_epsilon(delta=dpsgd.delta))
    return weights, reported


def build(model: MLPModel, inputs: int, outputs: int) -> Any:
    """The ``torch.nn.Sequential`` network: hidden layers with the activation, then logits."""
    import torch

    layers: list[Any] = []
    width = inputs
    for hidden in model.hidden_layers:
        layers += [torch.nn.Linear(width, hidden), _activation(model.activation)]
        width = hidden
    layers.append(torch.nn.Linear(width, outputs))
    return torch.nn.Sequential(*layers)


def _activation(name: str) -> Any:
    import torch

    return torch.nn.ReLU() if name == "relu" else torch.nn.Tanh()


def save(path: Path, weights: dict[str, FloatArray], header: dict[str, Any]) -> None:
    """Write weights as float32 safetensors; ``header`` goes in the metadata as JSON strings."""
    from safetensors.numpy import save_file

    tensors = {name: np.ascontiguousarray(w, dtype=np.float32) for name, w in weights.items()}
    save_file(tensors, str(path), metadata={k: json.dumps(v) for k, v in header.items()})


def predict(weights: dict[str, npt.NDArray[Any]], activation: str, x: FloatArray) -> Any:
    """Class indices from safetensors weights, with numpy alone (float32, as trained)."""
    layers = sorted({int(name.split(".")[0]) for name in weights})
    h = x.astype(np.float32)
    for i, layer in enumerate(layers):
        h = h @ weights[f"{layer}.weight"].T + weights[f"{layer}.bias"]
        if i < len(layers) - 1:
            h = np.maximum(h, 0) if activation == "relu" else np.tanh(h)
    return np.argmax(h, axis=1)


def steps_per_epoch(sample_rate: float) -> int:
    """Steps opacus's Poisson sampler takes per epoch: ⌊1/q⌋."""
    return math.floor(1 / sample_rate)
