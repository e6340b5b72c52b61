"""DP-SGD as the ``train`` job runs it vs opacus's per-sample path vs plain torch, same run.

    python benchmarks/dpsgd.py [--rows N] [--epochs E] [--batch-size B] [--hidden 64,32]
                               [--repeat R]

Data: the demo residents (:func:`sandbox.cli.demo_data.generate_residents`),
encoded as a train job does (age scaled by declared bounds; education,
occupation and city one-hot), label ``income >= 40,000``; 80 % train, 20 %
holdout.

- plain torch: the same ``torch.nn.Sequential`` (:func:`jobs.kinds.train.mlp.build`),
  Adam, a ``DataLoader`` of shuffled fixed-size batches of B, mean cross-entropy
  (the issue's baseline).
- plain, no loader: the same, batches sliced from one permutation of the
  tensors (no ``DataLoader``; the DP-SGD path has none either).
- engine DP-SGD: :func:`jobs.kinds.train.mlp.train`, the job's own path —
  Poisson sampling at q = B / N, each row's gradient clipped to norm 1 by
  ghost clipping (:mod:`jobs.kinds.train.clipping`), Gaussian noise in
  opacus's ``secure_mode``, σ from the RDP accountant for ε = 1, δ = 1e-5, Adam.
- opacus per-sample: the path the engine took before (``GradSampleModule``,
  ``DPDataLoader``, ``DPOptimizer``): the same sampling, clipping, noise,
  σ and ε, with every per-sample gradient built.

All run on one thread (as a Ray task does), interleaved, R times (seeds 0 …
R-1 for the DP runs); a run's seconds per epoch are its whole training
call's (set-up included, for each alike) over E. An epoch is ⌈N/B⌉ batches of B for plain torch and
⌊1/q⌋ Poisson batches of B·(rows left for training)/N on average for
DP-SGD, so the time per step is printed too. Prints the best and median
seconds per epoch of each (wall, and CPU: one thread, so CPU seconds are
the work, less disturbed by other processes on a loaded machine), the
ratios of the medians, each model's median holdout accuracy (exact, not
DP: this is a benchmark, not a release), and the load average. Target
(issue 18): engine DP-SGD ≤ 2× plain torch per epoch.
"""

from __future__ import annotations

import argparse
import os
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


def _plain(model: MLPModel, x: np.ndarray, y: np.ndarray, loader: bool = True) -> tuple[int, Any]:
    """Plain torch training; steps per epoch, the network.

    With ``loader`` batches come from a shuffling ``DataLoader`` (row by row,
    then stacked); without, from slices of one random permutation of the
    tensors (no per-row Python work: the fastest plain loop).
    """
    torch.manual_seed(0)
    net = _train_mlp.build(model, x.shape[1], 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=model.learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss()
    features, labels = torch.from_numpy(x).float(), torch.from_numpy(y).long()
    data = TensorDataset(features, labels)
    steps = -(-len(data) // model.batch_size)

    def batches() -> Any:
        if loader:
            return DataLoader(data, batch_size=model.batch_size, shuffle=True)
        order = torch.randperm(len(data))
        return (
            (features[i], labels[i])
            for i in (
                order[k : k + model.batch_size] for k in range(0, len(data), model.batch_size)
            )
        )

    for _ in range(model.epochs):
        for batch_x, batch_y in batches():
            optimizer.zero_grad()
            loss_fn(net(batch_x), batch_y).backward()
            optimizer.step()
    return steps, net


def _opacus_per_sample(
    model: MLPModel, x: np.ndarray, y: np.ndarray, plan: _train_mlp.DpsgdPlan, seed: int
) -> Any:
    """The engine's DP-SGD before ghost clipping: opacus's per-sample gradients and data loader."""
    import warnings

    from opacus import GradSampleModule
    from opacus.data_loader import DPDataLoader
    from opacus.optimizers import DPOptimizer

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = _train_mlp.build(model, x.shape[1], 2)
    data = TensorDataset(torch.from_numpy(x).float(), torch.from_numpy(y).long())
    loader = DPDataLoader(data, sample_rate=plan.sample_rate, generator=generator)
    module = GradSampleModule(net)
    optimizer = DPOptimizer(
        torch.optim.Adam(module.parameters(), lr=model.learning_rate),
        noise_multiplier=plan.noise_multiplier,
        max_grad_norm=model.max_grad_norm,
        expected_batch_size=model.batch_size,
        generator=generator,
        secure_mode=True,
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook", category=UserWarning)
        for _ in range(model.epochs):
            for features, labels in loader:
                optimizer.zero_grad()
                loss_fn(module(features), labels).backward()
                optimizer.step()
    return net


def _accuracy(net: Any, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        predicted = net(torch.from_numpy(x).float()).argmax(dim=1).numpy()
    return float(np.mean(predicted == y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--hidden", default="64,32")
    parser.add_argument("--repeat", type=int, default=3)
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
    plan = _train_mlp.plan(model, spec.epsilon, spec.delta, args.rows)
    dp_steps = plan.steps // args.epochs

    names = ["plain torch", "plain, no loader", "engine DP-SGD", "opacus per-sample"]
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    accuracy: dict[str, list[float]] = {name: [] for name in names}
    reported = 0.0
    plain_steps = 0

    def timed(name: str, run: Any, *arguments: Any, **options: Any) -> Any:
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run(*arguments, **options)
        wall[name].append((time.perf_counter() - start) / args.epochs)
        cpu[name].append((time.process_time() - start_cpu) / args.epochs)
        return result

    for seed in range(args.repeat):
        plain_steps, net = timed("plain torch", _plain, model, x, y)
        accuracy["plain torch"].append(_accuracy(net, x_test, y_test))
        _, net = timed("plain, no loader", _plain, model, x, y, loader=False)
        accuracy["plain, no loader"].append(_accuracy(net, x_test, y_test))
        weights, reported = timed("engine DP-SGD", _train_mlp.train, model, x, y, 2, plan, seed)
        predicted = _train_mlp.predict(weights, model.activation, x_test)
        accuracy["engine DP-SGD"].append(float(np.mean(predicted == y_test)))
        net = timed("opacus per-sample", _opacus_per_sample, model, x, y, plan, seed)
        accuracy["opacus per-sample"].append(_accuracy(net, x_test, y_test))

    print(
        f"rows={args.rows:,} (train {x.shape[0]:,}, {x.shape[1]} inputs) hidden={hidden} "
        f"batch={args.batch_size} epochs={args.epochs} repeat={args.repeat}"
    )
    print(
        f"  DP-SGD: sigma={plan.noise_multiplier:.3f} q={plan.sample_rate:.4f} "
        f"steps={plan.steps} epsilon={reported:.3f} delta={spec.delta:g}"
    )
    print(
        f"  {'s / epoch:':<18}{'wall best':>10}{'median':>8}{'CPU best':>10}{'median':>8}"
        f"  {'steps / epoch':>13}  {'ms / step':>9}  {'holdout acc':>11}"
    )
    median = {name: statistics.median(v) for name, v in wall.items()}
    median_cpu = {name: statistics.median(v) for name, v in cpu.items()}
    for name in names:
        steps = plain_steps if name.startswith("plain") else dp_steps
        print(
            f"  {name:<18}{min(wall[name]):10.3f}{median[name]:8.3f}{min(cpu[name]):10.3f}"
            f"{median_cpu[name]:8.3f}  {steps:13d}  {median[name] / steps * 1000:9.2f}  "
            f"{statistics.median(accuracy[name]):11.3f}"
        )
    print("  ratios of the medians, per epoch (per step), wall / CPU:")
    for name in ("engine DP-SGD", "opacus per-sample"):
        for plain in ("plain torch", "plain, no loader"):
            ratio, ratio_cpu = median[name] / median[plain], median_cpu[name] / median_cpu[plain]
            steps = plain_steps / dp_steps
            print(
                f"    {name} / {plain}: {ratio:.2f}x ({ratio * steps:.2f}x) / "
                f"{ratio_cpu:.2f}x ({ratio_cpu * steps:.2f}x)"
            )
    print(f"  load average: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
