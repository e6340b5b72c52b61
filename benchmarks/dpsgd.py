"""DP-SGD (opacus, as the ``train`` job runs it) vs plain torch: time per epoch, same MLP, same run.

    python benchmarks/dpsgd.py [--rows N] [--epochs E] [--batch-size B] [--hidden 64,32]

Data: the demo residents (:func:`sandbox.cli.demo_data.generate_residents`),
encoded as a train job does (age scaled by declared bounds; education,
occupation and city one-hot), label ``income >= 40,000``; 80 % train, 20 %
holdout.

- plain torch: the same ``torch.nn.Sequential`` (:func:`jobs.kinds.train.mlp.build`),
  Adam, shuffled fixed-size batches of B, mean cross-entropy.
- opacus DP-SGD: :func:`jobs.kinds.train.mlp.train`, the job's own path —
  Poisson sampling at q = B / N, per-sample gradients (``GradSampleModule``),
  clipping to norm 1, Gaussian noise in opacus's ``secure_mode``, σ from the
  RDP accountant for ε = 1, δ = 1e-5, Adam.

Both run on one thread (as a Ray task does). An epoch is ⌈N/B⌉ batches of B
for plain torch and ⌊1/q⌋ Poisson batches of B·(rows left for training)/N
on average for DP-SGD, so the time per step is printed too. Prints the
seconds per epoch of each, their ratios, and each model's holdout accuracy (exact, not
DP: this is a benchmark, not a release). Opacus reports DP-SGD costs of
roughly 2-10x plain training for small models.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from jobs.kinds import parse_job_spec
from jobs.kinds.train import data as _train_data
from jobs.kinds.train import mlp as _train_mlp
from jobs.kinds.train.spec import MLPModel, TrainSpec
from sandbox.cli.demo_data import JIANGSU_CITIES, generate_residents

EDUCATION = ["小学", "初中", "高中", "大专", "本科", "研究生"]
OCCUPATIONS = ["工人", "农民", "个体经营", "服务业", "销售", "教师", "医生",
               "工程师", "公务员", "金融", "无业", "学生", "退休"]  # fmt: skip


def _spec(epochs: int, batch_size: int, hidden: list[int]) -> TrainSpec:
    spec = parse_job_spec(
        {
            "kind": "train",
            "dataset": "residents",
            "model": {
                "type": "mlp",
                "hidden_layers": hidden,
                "epochs": epochs,
                "batch_size": batch_size,
            },
            "features": [
                {"column": "age", "lower": 18, "upper": 90},
                {"column": "education", "categories": EDUCATION},
                {"column": "occupation", "categories": OCCUPATIONS},
                {"column": "city", "categories": list(JIANGSU_CITIES)},
            ],
            "label": {"column": "income", "threshold": 40_000},
            "epsilon": 1.0,
            "delta": 1e-5,
        }
    )
    assert isinstance(spec, TrainSpec)
    return spec


def _plain(model: MLPModel, x: np.ndarray, y: np.ndarray) -> tuple[list[float], int, Any]:
    """Plain torch training; seconds per epoch, steps per epoch, the network."""
    torch.manual_seed(0)
    net = _train_mlp.build(model, x.shape[1], 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=model.learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss()
    data = TensorDataset(torch.from_numpy(x).float(), torch.from_numpy(y).long())
    loader = DataLoader(data, batch_size=model.batch_size, shuffle=True)
    epochs: list[float] = []
    for _ in range(model.epochs):
        start = time.perf_counter()
        for features, labels in loader:
            optimizer.zero_grad()
            loss_fn(net(features), labels).backward()
            optimizer.step()
        epochs.append(time.perf_counter() - start)
    return epochs, len(loader), net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--hidden", default="64,32")
    args = parser.parse_args()
    hidden = [int(h) for h in args.hidden.split(",")]
    torch.set_num_threads(1)

    spec = _spec(args.epochs, args.batch_size, hidden)
    frame = generate_residents(args.rows)
    split = _train_data.prepare(frame, spec.features, spec.label, None, 0.2, key=1)
    x, y = split.x_train, np.asarray(split.y_train, dtype=np.int64)
    x_test, y_test = split.x_holdout, np.asarray(split.y_holdout, dtype=np.int64)

    model = spec.model
    assert isinstance(model, MLPModel)
    plain_epochs, plain_steps, net = _plain(model, x, y)
    with torch.no_grad():
        plain_pred = net(torch.from_numpy(x_test).float()).argmax(dim=1).numpy()

    plan = _train_mlp.plan(model, spec.epsilon, spec.delta, args.rows)
    start = time.perf_counter()
    weights, reported = _train_mlp.train(model, x, y, 2, plan, seed=0)
    dp_total = time.perf_counter() - start
    dp_pred = _train_mlp.predict(weights, model.activation, x_test)

    plain = statistics.median(plain_epochs)
    dp = dp_total / args.epochs
    print(
        f"rows={args.rows:,} (train {x.shape[0]:,}, {x.shape[1]} inputs) hidden={hidden} "
        f"batch={args.batch_size} epochs={args.epochs}"
    )
    print(
        f"  DP-SGD: sigma={plan.noise_multiplier:.3f} q={plan.sample_rate:.4f} "
        f"steps={plan.steps} epsilon={reported:.3f} delta={spec.delta:g}"
    )
    dp_steps = plan.steps // args.epochs
    print(
        f"  {'':<16}{'s / epoch':>10}  {'steps / epoch':>13}  {'ms / step':>9}  {'holdout acc':>11}"
    )
    for name, seconds, steps, pred in (
        ("plain torch", plain, plain_steps, plain_pred),
        ("opacus DP-SGD", dp, dp_steps, dp_pred),
    ):
        print(
            f"  {name:<16}{seconds:10.3f}  {steps:13d}  {seconds / steps * 1000:9.2f}  "
            f"{np.mean(pred == y_test):11.3f}"
        )
    print(
        f"  opacus / plain, per epoch: {dp / plain:.1f}x; per step: "
        f"{(dp / dp_steps) / (plain / plain_steps):.1f}x"
    )


if __name__ == "__main__":
    main()
