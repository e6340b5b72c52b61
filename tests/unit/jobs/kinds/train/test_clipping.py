"""Ghost clipping: the same DP-SGD update as clipping each row's gradient, by hand or by opacus."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from jobs.kinds.train import clipping
from jobs.kinds.train import mlp as _train_mlp
from jobs.kinds.train.spec import MLPModel

INPUTS, CLASSES, ROWS = 4, 3, 40


def tiny(activation: str = "relu", optimizer: str = "sgd") -> MLPModel:
    return MLPModel.model_validate(
        {
            "type": "mlp", "hidden_layers": [5, 3], "activation": activation,
            "optimizer": optimizer, "learning_rate": 1.0, "batch_size": 8, "max_grad_norm": 1.0,
        }
    )  # fmt: skip


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((ROWS, INPUTS)), rng.integers(0, CLASSES, ROWS)


def by_hand(net: Any, x: torch.Tensor, y: torch.Tensor, bound: float) -> list[torch.Tensor]:
    """The textbook clipped sum: each row's whole gradient, its norm, its clip factor."""
    params = list(net.parameters())
    total = [torch.zeros_like(p) for p in params]
    for i in range(x.shape[0]):
        loss = torch.nn.functional.cross_entropy(net(x[i : i + 1]), y[i : i + 1])
        grads = torch.autograd.grad(loss, params)
        norm = math.sqrt(sum(float(g.square().sum()) for g in grads))
        factor = min(1.0, bound / (norm + 1e-6))
        total = [t + factor * g for t, g in zip(total, grads, strict=True)]
    return total


def row_norms(net: Any, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    params = list(net.parameters())
    norms = []
    for i in range(x.shape[0]):
        loss = torch.nn.functional.cross_entropy(net(x[i : i + 1]), y[i : i + 1])
        norms.append(
            math.sqrt(sum(float(g.square().sum()) for g in torch.autograd.grad(loss, params)))
        )
    return norms


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_clipped_sum_when_some_rows_clipped_then_equals_per_row_clipping_by_hand(
    activation: str,
) -> None:
    torch.manual_seed(3)
    net = _train_mlp.build(tiny(activation), INPUTS, CLASSES)
    x, y = (torch.from_numpy(a) for a in data())
    x = x.float() * 4  # larger inputs, larger gradients: some rows over the bound
    norms = row_norms(net, x, y)
    bound = float(np.median(norms))  # half the rows clipped, half not
    assert min(norms) < bound < max(norms)

    got = clipping.clipped_sum(net, x, y, bound)

    expected = by_hand(net, x, y, bound)
    assert [g.shape for g in got] == [p.shape for p in net.parameters()]
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)


def test_clipped_sum_when_batch_empty_then_zeros() -> None:
    # a Poisson batch may be empty: the step still adds noise to a zero sum
    net = _train_mlp.build(tiny(), INPUTS, CLASSES)

    got = clipping.clipped_sum(net, torch.zeros(0, INPUTS), torch.zeros(0, dtype=torch.long), 1.0)

    assert [g.shape for g in got] == [p.shape for p in net.parameters()]
    assert all(float(g.abs().sum()) == 0.0 for g in got)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        # a LayerNorm has its own parameters: no backward pass written for it
        ([torch.nn.Linear(INPUTS, 3), torch.nn.ReLU(), torch.nn.LayerNorm(3)], "not LayerNorm"),
        ([torch.nn.Linear(INPUTS, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 2)], "not Sigmoid"),
        # two Linear layers in a row, or an activation after the logits
        ([torch.nn.Linear(INPUTS, 3), torch.nn.Linear(3, 2)], "not Linear here"),
        ([torch.nn.Linear(INPUTS, 3), torch.nn.ReLU()], "ends with a Linear"),
        ([torch.nn.ReLU(), torch.nn.Linear(INPUTS, 3)], "not ReLU here"),
    ],
)
def test_clipped_sum_when_network_is_not_an_mlp_of_build_then_refused(
    layers: list[Any], message: str
) -> None:
    net = torch.nn.Sequential(*layers)

    with pytest.raises(ValueError, match=message):
        clipping.clipped_sum(net, torch.ones(2, INPUTS), torch.zeros(2, dtype=torch.long), 1.0)


# with σ = 0 the accountant's ε is infinite and it says so
@pytest.mark.filterwarnings("ignore:Optimal order is the smallest alpha:UserWarning")
def test_train_when_no_noise_then_one_step_is_the_hand_clipped_sum_over_the_batch() -> None:
    # σ = 0 and SGD with learning rate 1: the step is exactly -(clipped sum) / batch_size,
    # the batch drawn as opacus's Poisson sampler draws it from the seeded generator
    x, y = data()
    x *= 4  # larger inputs, larger gradients: some rows over the bound
    q = tiny().batch_size / ROWS
    plan = _train_mlp.DpsgdPlan(q, steps=1, noise_multiplier=0.0, epsilon=math.inf, delta=1e-5)
    torch.manual_seed(5)
    start = _train_mlp.build(tiny(), INPUTS, CLASSES)
    chosen = torch.rand(ROWS, generator=torch.Generator().manual_seed(5)) < q
    features, labels = torch.from_numpy(x).float(), torch.from_numpy(y)
    norms = row_norms(start, features[chosen], labels[chosen])
    assert len(norms) > 2
    # half the batch clipped, half not
    model = tiny().model_copy(update={"max_grad_norm": float(np.median(norms))})
    assert min(norms) < model.max_grad_norm < max(norms)

    weights, _ = _train_mlp.train(model, x, y, CLASSES, plan, seed=5)

    clipped = by_hand(start, features[chosen], labels[chosen], model.max_grad_norm)
    for (name, before), summed in zip(start.state_dict().items(), clipped, strict=True):
        expected = before - summed / model.batch_size
        np.testing.assert_allclose(weights[name], expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_train_when_noise_then_same_weights_as_opacus_per_sample_clipping(optimizer: str) -> None:
    # the path the engine took before: GradSampleModule + DPOptimizer (secure mode), fed the
    # same Poisson batches from the same generator; the noise must be the same draws
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    model = tiny(optimizer=optimizer)
    x, y = data(1)
    q = model.batch_size / ROWS
    plan = _train_mlp.DpsgdPlan(q, steps=6, noise_multiplier=1.1, epsilon=9.0, delta=1e-5)
    torch.manual_seed(9)
    generator = torch.Generator().manual_seed(9)
    net = _train_mlp.build(model, INPUTS, CLASSES)
    module = GradSampleModule(net)
    inner = (
        torch.optim.SGD(module.parameters(), lr=model.learning_rate)
        if optimizer == "sgd"
        else torch.optim.Adam(module.parameters(), lr=model.learning_rate)
    )
    reference = DPOptimizer(
        inner, noise_multiplier=1.1, max_grad_norm=model.max_grad_norm,
        expected_batch_size=model.batch_size, generator=generator, secure_mode=True,
    )  # fmt: skip
    features, labels = torch.from_numpy(x).float(), torch.from_numpy(y)
    with pytest.warns(UserWarning, match="Full backward hook"):
        for _ in range(plan.steps):
            chosen = torch.rand(ROWS, generator=generator) < q
            reference.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(features[chosen]), labels[chosen])
            loss.backward()  # type: ignore[no-untyped-call]
            reference.step()

    weights, _ = _train_mlp.train(model, x, y, CLASSES, plan, seed=9)

    for name, tensor in net.state_dict().items():
        np.testing.assert_allclose(weights[name], tensor.numpy(), rtol=1e-4, atol=1e-5)
