"""The ``train`` job kind: a differentially private model, released as JSON or safetensors.

diffprivlib fits logistic and linear regression, Gaussian naive Bayes,
k-means and random forests (pure ε-DP, :mod:`jobs.kinds.train.models`); opacus
trains a small MLP with DP-SGD ((ε, δ)-DP by its RDP accountant,
:mod:`jobs.kinds.train.mlp`). The ledger reserves :func:`charge` before the job
runs, from the spec and the catalogued row count alone.

How one job stays within its ε:

1. **One row per person** (:mod:`jobs.kinds.train.data`): at most one row per
   privacy unit enters, so DP per row is DP per person.
2. **Disjoint parts**: a keyed hash sends each person to the training part
   or the holdout part, a rule that does not look at anyone else.
3. **Training** spends the whole ε (and δ) on the training part.
4. **Evaluation** spends the whole ε again, on the holdout part only: the
   noisy count of correct predictions and the noisy count of holdout rows
   (classifiers), a noisy clipped sum of squared errors and a noisy count
   (regression), or noisy cluster sizes (k-means), with discrete Laplace
   noise (:mod:`jobs.dp.mechanisms`). A person is in one part only: if in
   the training part, the model changes by at most e^ε and the metrics are
   post-processing of it on data that does not hold them; if in the
   holdout part, the model is unchanged and the counts change by e^ε at
   most. Parallel composition: the whole job is ε-DP (or (ε, δ)-DP).

The exact counts of rows used go to the reviewer's report only (operators
never see it); the operator sees the DP metrics in the model file.
Nothing an operator sends is ever unpickled, and no output is a pickle.

References:
    McSherry, F. (2009). Privacy integrated queries. SIGMOD (parallel composition).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jobs import storage
from jobs.dp.accounting import Charge
from jobs.dp.mechanisms import NoiseLaw, make_rng
from jobs.errors import InvalidJobSpec, JobFailed
from jobs.kinds.train import data as _train_data
from jobs.kinds.train import mlp as _train_mlp
from jobs.kinds.train import models as _train_models
from jobs.kinds.train.spec import KMeansModel, MLPModel, TrainSpec
from jobs.spec import NUMERIC_DTYPES, parse_as
from jobs.task import Outcome, Task, sha256_file
from policies.catalog import (
    ColumnTag,
    ColumnUse,
    Grade,
    Product,
    can_use_column,
    check_grade_allows,
)
from policies.errors import PolicyViolation

__all__ = ["FORMAT", "charge", "predict", "run", "validate"]

#: Identifies an exported model file's layout.
FORMAT = "data-sandbox/model-v1"
#: Squared errors are released in these units of the label range squared.
_ERROR_UNITS = 1000
#: Below this many training rows a job fails rather than fit noise.
MIN_TRAIN_ROWS = 10


def validate(
    spec: TrainSpec,
    dtypes: Mapping[str, str],
    tags: Mapping[str, ColumnTag],
    grade: Grade | str = Grade.GENERAL,
    options: Mapping[str, Any] | None = None,
) -> None:
    """Raise unless the catalog allows the spec: columns exist, types fit, tags allow, grade allows.

    Args:
        spec: The train spec.
        dtypes: Column name to polars dtype name, from the catalog.
        tags: Column name to tag, from the catalog.
        grade: The dataset's security grade.
        options: Settings from the grant; ``models`` (a list of model
            families) restricts which ones it allows.

    Raises:
        PolicyViolation: Core data (art. 62), or a model family the grant excludes.
        InvalidJobSpec: Unknown column, a direct identifier used (art. 37),
            a non-numeric column where a number is needed.
    """
    # art. 62: core data (核心数据) gets no derived model; a model can memorize rows.
    check_grade_allows(Grade(grade), Product.MODEL)
    allowed = (options or {}).get("models")
    if allowed is not None and spec.model.type not in allowed:
        raise PolicyViolation(
            f"the grant does not allow {spec.model.type} models; it allows: "
            f"{', '.join(sorted(allowed)) or 'none'}"
        )
    numeric = [(f.column, "feature") for f in spec.features if f.categories is None]
    if spec.label is not None and spec.label.classes is None:
        numeric.append((spec.label.column, "label"))
    for column in _train_data.used_columns(spec.features, spec.label):
        if column not in tags:
            raise InvalidJobSpec(
                f"dataset '{spec.dataset}' has no column '{column}'; "
                "list its schema with client.datasets()"
            )
        _check_trainable(column, tags[column])
    for column, role in numeric:
        if dtypes.get(column) not in NUMERIC_DTYPES:
            raise InvalidJobSpec(
                f"column '{column}' is not numeric and cannot be a numeric {role}; "
                "declare categories (feature) or classes (label) instead"
            )


def _check_trainable(column: str, tag: ColumnTag) -> None:
    """art. 37: a column no query may use (a direct identifier) is no feature or label either."""
    if not any(can_use_column(tag, use) for use in ColumnUse):
        raise InvalidJobSpec(
            f"column '{column}' is tagged {tag.value} and cannot be a feature or label "
            "(art. 37); use quasi-identifier, sensitive or plain columns"
        )


def charge(spec: TrainSpec, rows: int) -> Charge:
    """What the job spends, before it runs, from the spec and the catalogued row count.

    diffprivlib models are pure ε-DP: ``Charge(epsilon=spec.epsilon)``. DP-SGD
    is charged the (ε, δ) opacus's RDP accountant states for its (σ, q,
    steps) — at most the spec's ε — as ``Charge(epsilon=ε, delta=δ)``; see
    :mod:`jobs.kinds.train.mlp`. The holdout evaluation is free by parallel
    composition (module docstring).

    Raises:
        InvalidJobSpec: DP-SGD whose batch is not below ``rows``, or whose
            given noise multiplier spends more than the spec's ε.
    """
    if isinstance(spec.model, MLPModel):
        dpsgd = _train_mlp.plan(spec.model, spec.epsilon, spec.delta, rows)
        return Charge(epsilon=dpsgd.epsilon, delta=dpsgd.delta)
    return Charge(epsilon=spec.epsilon)


def run(task: Task) -> Outcome:
    """Train, evaluate on the holdout with DP counts, write the model into quarantine.

    The file is ``<stem>.json`` (diffprivlib models) or ``<stem>.safetensors``
    (MLP) next to ``task.output_path``.

    Raises:
        JobFailed: The catalog in the task forbids the spec, or too few usable
            rows; the message carries no value.
    """
    import polars as pl

    spec = parse_as(TrainSpec, task.spec)
    if spec is None:
        raise JobFailed("not a train job")
    catalog = task.columns.get(spec.dataset)
    if catalog is not None:  # the service validated already; the task checks again where it runs
        try:
            validate(
                spec,
                {c: v["dtype"] for c, v in catalog.items()},
                {c: ColumnTag(v["tag"]) for c, v in catalog.items()},
                task.grades.get(spec.dataset, Grade.GENERAL),
                task.options,
            )
        except (InvalidJobSpec, PolicyViolation) as err:
            raise JobFailed(str(err)) from None
    # the charge the operator sees depends on the public count only: DP-SGD samples each
    # person with q = batch / public rows, which is a valid Poisson rate whatever the true count
    rows = task.charged_rows(spec.dataset)
    spent = charge(spec, rows)
    rng = make_rng(task.seed)
    key, seed = job_randomness(rng)
    unit = task.privacy_units.get(spec.dataset)
    columns = _train_data.used_columns(spec.features, spec.label) + ([unit] if unit else [])
    try:
        frame = (
            storage.scan_parquet(task.inputs[spec.dataset])
            .select(list(dict.fromkeys(columns)))
            .collect()
        )
    except pl.exceptions.PolarsError as err:
        raise JobFailed(f"the dataset could not be read ({type(err).__name__})") from None
    split = _train_data.prepare(frame, spec.features, spec.label, unit, spec.holdout_fraction, key)
    if split.x_train.shape[0] < MIN_TRAIN_ROWS:
        raise JobFailed(
            f"fewer than {MIN_TRAIN_ROWS} usable training rows; "
            "check the label classes and the features' null values"
        )
    n_classes = _n_classes(spec)
    header: dict[str, Any] = _header(spec, spent)
    if isinstance(spec.model, MLPModel):
        dpsgd = _train_mlp.plan(spec.model, spec.epsilon, spec.delta, rows)
        y_train = np.asarray(split.y_train, dtype=np.int64)
        weights, reported = _train_mlp.train(
            spec.model, split.x_train, y_train, n_classes, dpsgd, seed
        )
        header["privacy"] |= {
            "noise_multiplier": dpsgd.noise_multiplier,
            "sample_rate": dpsgd.sample_rate,
            "steps": dpsgd.steps,
            "accountant": "opacus RDP",
            "accountant_epsilon": reported,
        }
        predicted = _train_mlp.predict(weights, spec.model.activation, split.x_holdout)
        header["metrics"] = _metrics(spec, split, predicted, rng)
        out = Path(task.output_path).with_suffix(".safetensors")
        _atomic(out, lambda tmp: _train_mlp.save(tmp, weights, header))
        extra = {
            "epochs": spec.model.epochs,
            "noise_multiplier": dpsgd.noise_multiplier,
            "steps": dpsgd.steps,
            "accountant_epsilon": reported,
        }
    else:
        fitted = _train_models.fit(
            spec.model, split.x_train, split.y_train, (n_classes, _label_bounds(spec)),
            spec.epsilon, seed, data_norm=math.sqrt(len(spec.features)),
        )  # fmt: skip
        predicted = _train_models.predict(spec.model.type, fitted.params, split.x_holdout)
        header["metrics"] = _metrics(spec, split, predicted, rng)
        header["parameters"] = fitted.params
        header["converged"] = fitted.converged
        out = Path(task.output_path).with_suffix(".json")
        text = json.dumps(header, ensure_ascii=False, allow_nan=False)
        _atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        extra = {"converged": fitted.converged}
    eps, delta = spent.standalone
    return Outcome(
        output_path=str(out),
        output_sha256=sha256_file(out),
        rows=0,
        epsilon=eps,
        delta=delta,
        report={
            "model": spec.model.type,
            "metrics": header["metrics"],
            "epsilon": eps,
            "delta": delta,
            "rows_trained": int(split.x_train.shape[0]),
            "rows_holdout": int(split.x_holdout.shape[0]),
            **extra,
        },
    )


def job_randomness(rng: np.random.Generator) -> tuple[int, int]:
    """The job's hash key (row choice and split) and the libraries' seed, drawn from ``rng``.

    The seed has 32 bits: diffprivlib seeds numpy's legacy ``RandomState``.
    """
    return int(rng.integers(0, 2**62)), int(rng.integers(0, 2**32))


def _n_classes(spec: TrainSpec) -> int:
    if spec.label is None or not spec.label.is_classification:
        return 0
    return 2 if spec.label.classes is None else len(spec.label.classes)


def _label_bounds(spec: TrainSpec) -> tuple[float, float] | None:
    label = spec.label
    if label is None or label.lower is None or label.upper is None:
        return None
    return (label.lower, label.upper)


def _header(spec: TrainSpec, spent: Charge) -> dict[str, Any]:
    """Everything but the parameters: enough to encode inputs and read predictions."""
    eps, delta = spent.standalone
    label = None if spec.label is None else spec.label.model_dump(exclude_none=True)
    classes: list[Any] | None = None
    if spec.label is not None and spec.label.is_classification:
        classes = spec.label.classes if spec.label.classes is not None else [0, 1]
    return {
        "format": FORMAT,
        "model": spec.model.type,
        "hyperparameters": spec.model.model_dump(exclude={"type"}),
        "features": [f.model_dump(exclude_none=True) for f in spec.features],
        "inputs": _train_data.input_names(spec.features),
        "encoding": "numeric: clip to [lower, upper], then (x - lower) / (upper - lower); "
        "categorical: one-hot over the declared categories",
        "label": label,
        "classes": classes,
        "privacy": {"epsilon": eps, "delta": delta, "unit": "person (one row per privacy unit)"},
    }


def _metrics(
    spec: TrainSpec, split: _train_data.Split, predicted: npt.NDArray[Any], rng: np.random.Generator
) -> dict[str, Any] | None:
    """DP metrics on the holdout part, each release spending the job's whole ε (parallel parts)."""
    if spec.holdout_fraction == 0.0:
        return None
    epsilon = Fraction(spec.epsilon)
    n = int(split.x_holdout.shape[0])
    if isinstance(spec.model, KMeansModel):
        sizes = np.bincount(predicted.astype(np.int64), minlength=spec.model.n_clusters)
        # A person is in one cluster: the histogram's ℓ1 sensitivity is 1.
        noisy = sizes + NoiseLaw.discrete_laplace(1, epsilon).sample(rng, sizes.size)
        return {
            "holdout_cluster_sizes": [max(int(v), 0) for v in noisy],
            "noise": "discrete laplace",
        }
    y = np.asarray(split.y_holdout)
    if spec.label is None:  # pragma: no cover - the spec gives every other model a label
        return None
    if spec.label.is_classification:
        correct = int(np.sum(predicted == y))
        # One person moves (correct, rows) by at most 1 each: ℓ1 sensitivity 2.
        noise = NoiseLaw.discrete_laplace(2, epsilon).sample(rng, 2)
        noisy_correct, noisy_rows = correct + int(noise[0]), n + int(noise[1])
        return {
            "holdout_accuracy": _ratio(noisy_correct, noisy_rows),
            "holdout_correct": max(noisy_correct, 0),
            "holdout_rows": max(noisy_rows, 0),
            "noise": "discrete laplace, scale 2/epsilon",
        }
    lower, upper = float(spec.label.lower or 0.0), float(spec.label.upper or 0.0)
    span = upper - lower
    clipped = np.clip(predicted, lower, upper)
    # Each person's squared error, in units of span²/1000, lies in [0, 1000].
    units = np.rint(((clipped - y) / span) ** 2 * _ERROR_UNITS).astype(np.int64)
    half = epsilon / 2
    noisy_sse = int(units.sum()) + int(
        NoiseLaw.discrete_laplace(_ERROR_UNITS, half).sample(rng, 1)[0]
    )
    noisy_rows = n + int(NoiseLaw.discrete_laplace(1, half).sample(rng, 1)[0])
    mse = max(noisy_sse, 0) / _ERROR_UNITS / max(noisy_rows, 1)
    return {
        "holdout_rmse": span * math.sqrt(mse),
        "holdout_rows": max(noisy_rows, 0),
        "noise": "discrete laplace; epsilon split evenly between error sum and row count",
    }


def _ratio(numerator: int, denominator: int) -> float:
    """A noisy share, clipped to [0, 1] (post-processing)."""
    if denominator <= 0:
        return 0.0
    return min(max(numerator / denominator, 0.0), 1.0)


def _atomic(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    write(tmp)
    os.replace(tmp, path)


def predict(path: str | Path, frame: Any) -> npt.NDArray[Any]:
    """Predictions of an exported model on a polars frame, read with json / safetensors only.

    Args:
        path: A ``.json`` or ``.safetensors`` file written by :func:`run`.
        frame: A polars DataFrame holding the model's feature columns.

    Returns:
        Declared class values (classifiers), cluster indices (k-means) or
        predicted values (regression).

    Raises:
        InvalidJobSpec: The file is not an exported model.
    """
    from jobs.kinds.train.spec import TrainFeature

    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        from safetensors.numpy import load_file

        weights = load_file(str(path))
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata() or {}
        header = {k: json.loads(v) for k, v in meta.items()}
    else:
        header = json.loads(path.read_text(encoding="utf-8"))
        weights = {}
    if header.get("format") != FORMAT:
        raise InvalidJobSpec("not a model file exported by a train job")
    features = [TrainFeature.model_validate(f) for f in header["features"]]
    x = _train_data.encode_features(frame, features)
    if header["model"] == "mlp":
        out = _train_mlp.predict(weights, header["hyperparameters"]["activation"], x)
    else:
        out = _train_models.predict(header["model"], header["parameters"], x)
    classes = header.get("classes")
    if classes is not None:
        return np.asarray(classes, dtype=object)[np.asarray(out, dtype=np.int64)]
    return np.asarray(out)
