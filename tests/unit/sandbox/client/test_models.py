"""The client's predictions agree with the service's on models fitted by the train kind's code."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from jobs.kinds.train import engine, models
from jobs.kinds.train import mlp as train_mlp
from jobs.kinds.train.data import encode_features
from jobs.kinds.train.spec import (
    GaussianNBModel,
    KMeansModel,
    LinearRegressionModel,
    LogisticRegressionModel,
    RandomForestModel,
    TrainFeature,
)
from policies.errors import InvalidRequest
from sandbox.client import Model

FEATURES = [
    {"column": "age", "lower": 18.0, "upper": 90.0},
    {"column": "income", "lower": 0.0, "upper": 200_000.0},
    {"column": "city", "categories": ["南京市", "苏州市", "无锡市"]},
]


def _frame(n: int, seed: int = 3) -> pl.DataFrame:
    rng = random.Random(seed)
    return pl.DataFrame(
        {
            "age": [rng.randint(10, 95) for _ in range(n)],
            "income": [rng.uniform(-1000, 250_000) if i % 17 else None for i in range(n)],
            "city": [rng.choice(["南京市", "苏州市", "无锡市", "徐州市"]) for _ in range(n)],
        }
    )


def _header(family: str, classes: list[Any] | None, **extra: Any) -> dict[str, Any]:
    return {
        "format": engine.FORMAT,
        "model": family,
        "features": FEATURES,
        "inputs": ["age", "income", "city=南京市", "city=苏州市", "city=无锡市"],
        "classes": classes,
        **extra,
    }


def _fit(model: Any, classes: list[Any] | None, label_bounds: Any = None) -> dict[str, Any]:
    """Fit through the train kind's own code on encoded rows; the exported JSON header."""
    frame = _frame(400, seed=11)
    x = encode_features(frame, [TrainFeature.model_validate(f) for f in FEATURES])
    if classes is None and label_bounds is None:
        y = None
    elif label_bounds is not None:
        y = x[:, 0] * 50 + x[:, 1] * 30
    else:
        y = ((x[:, 0] + x[:, 2] * 0.5 + x[:, 1]) * len(classes) / 2.5).astype(np.int64)
        y = np.clip(y, 0, len(classes) - 1)
    fitted = models.fit(model, x, y, (len(classes or []), label_bounds), 5.0, seed=7)
    return _header(model.type, classes, parameters=fitted.params)


CASES = [
    # (model, declared classes, label bounds)
    (LogisticRegressionModel(type="logistic_regression"), ["低", "高"], None),  # binary
    (LogisticRegressionModel(type="logistic_regression"), ["a", "b", "c"], None),  # one-vs-rest
    (LinearRegressionModel(type="linear_regression"), None, (0.0, 100.0)),
    (GaussianNBModel(type="gaussian_nb"), [0, 1, 2], None),
    (KMeansModel(type="kmeans", n_clusters=3), None, None),
    (RandomForestModel(type="random_forest", n_estimators=5, max_depth=4), [True, False], None),
]


@pytest.mark.parametrize(("model", "classes", "bounds"), CASES, ids=lambda c: str(c)[:20])
def test_predict_when_json_model_then_same_as_the_services_predict(
    tmp_path: Path, model: Any, classes: list[Any] | None, bounds: Any
) -> None:
    header = _fit(model, classes, bounds)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(header, ensure_ascii=False), encoding="utf-8")
    rows = _frame(60)
    served = engine.predict(path, rows)
    mine = Model.from_file(path).predict(rows)
    assert mine.name == "prediction" and mine.len() == rows.height
    if classes is None and bounds is not None:
        assert np.allclose(mine.to_numpy(), served.astype(np.float64))
    else:
        assert mine.to_list() == served.tolist()
    if classes is not None:  # declared class values, not indices
        assert set(mine.to_list()) <= set(classes)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_predict_when_mlp_safetensors_then_same_as_the_services_predict(
    tmp_path: Path, activation: str
) -> None:
    rng = np.random.default_rng(5)
    widths = [5, 8, 4, 3]
    weights = {}
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        weights[f"{2 * i}.weight"] = rng.normal(size=(b, a))
        weights[f"{2 * i}.bias"] = rng.normal(size=b)
    header = _header("mlp", ["甲", "乙", "丙"], hyperparameters={"activation": activation})
    path = tmp_path / "model.safetensors"
    train_mlp.save(path, weights, header)
    rows = _frame(80)
    served = engine.predict(path, rows)
    model = Model.from_file(path)
    assert model.family == "mlp" and model.classes == ["甲", "乙", "丙"]
    assert model.predict(rows).to_list() == served.tolist()
    assert len(set(served.tolist())) > 1  # the comparison is not trivially constant


def test_predict_when_frame_lacks_a_feature_then_error_names_it() -> None:
    model = Model.from_json(_header("kmeans", None, parameters={"centroids": [[0.0] * 5] * 2}))
    with pytest.raises(InvalidRequest, match="income"):
        model.predict(pl.DataFrame({"age": [30], "city": ["南京市"]}))


def test_from_json_when_not_a_model_or_an_mlp_then_says_what_to_do() -> None:
    with pytest.raises(InvalidRequest, match="format"):
        Model.from_json({"format": "other"})
    with pytest.raises(InvalidRequest, match="safetensors"):
        Model.from_json(_header("mlp", ["a", "b"]))


def test_inputs_when_numeric_and_categorical_then_encoded_as_the_service_does() -> None:
    rows = _frame(50)
    model = Model.from_json(_header("kmeans", None, parameters={"centroids": [[0.0] * 5] * 2}))
    served = encode_features(rows, [TrainFeature.model_validate(f) for f in FEATURES])
    assert np.array_equal(model.inputs(rows).to_numpy(), served)
