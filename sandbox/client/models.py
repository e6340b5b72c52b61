"""Predictions from a released model, in the client: the five JSON families, and the MLP.

A ``train`` job releases its model as JSON (logistic and linear regression,
Gaussian naive Bayes, k-means, random forest) or as safetensors (the MLP),
with a header that says how inputs are encoded (``features``), what the
classes are and the parameters. :class:`Model` reads that header and predicts
on a polars frame holding the feature columns, as the service's own
``jobs.kinds.train.engine.predict`` does:

- inputs: a numeric feature is clipped to its declared ``[lower, upper]`` and
  scaled to [0, 1] (a null reads as the lower bound); a categorical one is
  one-hot over its declared categories (another value or a null: all zeros);
- the JSON families are evaluated with polars expressions (no numpy needed);
  the random forest's trees are walked per row, comparing float32 inputs with
  the thresholds as scikit-learn does;
- the MLP needs numpy and safetensors (the ``models`` extra); its forward pass
  is float32, as trained. torch is not needed.

The logic is a copy of the server's (the light client imports nothing from the
server side); ``tests/unit/sandbox/client/test_models.py`` checks the two agree.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from policies import errors as E

#: The header's ``format`` of a model a ``train`` job exports.
FORMAT = "data-sandbox/model-v1"
#: What ``pip install`` adds for an MLP's predictions.
MODELS_EXTRA = "pip install 'data-sandbox-client[models]' (numpy and safetensors)"


def as_text(value: Any) -> str:
    """A declared category as polars spells the value cast to text (``True`` → ``"true"``).

    >>> as_text(True), as_text(3), as_text("男")
    ('true', '3', '男')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _input_exprs(features: Sequence[Mapping[str, Any]]) -> list[pl.Expr]:
    exprs: list[pl.Expr] = []
    for f in features:
        column = str(f["column"])
        if f.get("categories") is None:
            lower, upper = float(f["lower"]), float(f["upper"])
            exprs.append(
                ((pl.col(column).cast(pl.Float64).clip(lower, upper) - lower) / (upper - lower))
                .fill_null(0.0)
                .alias(f"x{len(exprs)}")
            )
            continue
        text = pl.col(column).cast(pl.String)
        for category in f["categories"]:
            exprs.append(
                (text == as_text(category))
                .fill_null(False)
                .cast(pl.Float64)
                .alias(f"x{len(exprs)}")
            )
    return exprs


def _dot(row: Sequence[float], intercept: float) -> pl.Expr:
    terms = [pl.col(f"x{i}") * float(w) for i, w in enumerate(row)]
    return pl.sum_horizontal(terms) + intercept if terms else pl.lit(intercept)


def _log(value: float) -> float:
    return math.log(value) if value > 0 else -math.inf


@dataclass(frozen=True)
class Model:
    """A released model: its header (features, classes, parameters), and MLP weights if any.

    Build it with :meth:`from_json`, :meth:`from_file`, or ``job.predictor()``.
    """

    header: Mapping[str, Any]
    weights: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, header: Mapping[str, Any]) -> Model:
        """A JSON model as ``job.model()`` returns it.

        Raises:
            InvalidRequest: Not a model a train job exported, or an MLP (its weights are in
                the safetensors file: :meth:`from_file` or :meth:`from_safetensors`).
        """
        if header.get("format") != FORMAT:
            raise E.InvalidRequest("not a model exported by a train job (its format differs)")
        if header.get("model") == "mlp":
            raise E.InvalidRequest(
                "an MLP's weights are in its .safetensors file: job.predictor(), or "
                "Model.from_file(path) after job.download(path)"
            )
        return cls(dict(header))

    @classmethod
    def from_safetensors(cls, content: bytes) -> Model:
        """An MLP from its safetensors bytes (needs the ``models`` extra).

        Raises:
            ImportError: numpy or safetensors is missing; the message names the extra.
            InvalidRequest: Not a model a train job exported.
        """
        try:
            from safetensors.numpy import load
        except ImportError as err:
            raise ImportError(
                f"an MLP's predictions need numpy and safetensors: {MODELS_EXTRA}"
            ) from err
        header = {k: json.loads(v) for k, v in _metadata(content).items()}
        if header.get("format") != FORMAT:
            raise E.InvalidRequest("not a model exported by a train job (its format differs)")
        return cls(header, load(content))

    @classmethod
    def from_file(cls, path: str | Path) -> Model:
        """A model file a job released (``.json``, or ``.safetensors`` for an MLP)."""
        content = Path(path).read_bytes()
        if Path(path).suffix == ".safetensors":
            return cls.from_safetensors(content)
        return cls.from_json(json.loads(content))

    @property
    def family(self) -> str:
        """``logistic_regression``, ``linear_regression``, ``gaussian_nb``, ``kmeans``,
        ``random_forest`` or ``mlp``."""
        return str(self.header["model"])

    @property
    def classes(self) -> list[Any] | None:
        """The declared classes (classifiers); ``None`` for regression and k-means."""
        classes = self.header.get("classes")
        return None if classes is None else list(classes)

    def inputs(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The encoded model inputs ``x0, x1, ...`` (each in [0, 1]) of ``frame``'s rows.

        Raises:
            InvalidRequest: ``frame`` lacks a feature column.
        """
        features = list(self.header["features"])
        missing = sorted({str(f["column"]) for f in features} - set(frame.columns))
        if missing:
            raise E.InvalidRequest(
                f"the frame lacks the model's feature columns: {', '.join(missing)}"
            )
        return frame.select(_input_exprs(features))

    def predict(self, frame: pl.DataFrame) -> pl.Series:
        """Predictions for ``frame``'s rows, named ``prediction``.

        Returns:
            Declared class values (classifiers), cluster indices (k-means) or
            predicted values (linear regression).

        Raises:
            InvalidRequest: ``frame`` lacks a feature column, or an unknown model family.
            ImportError: An MLP without the ``models`` extra.
        """
        x = self.inputs(frame)
        out = self._indices(x)
        classes = self.classes
        if classes is None or out.dtype == pl.Float64:
            return out.alias("prediction")
        values = [None if i is None else classes[i] for i in out.to_list()]
        return pl.Series("prediction", values, strict=False)

    def _indices(self, x: pl.DataFrame) -> pl.Series:
        p, family = self.header.get("parameters", {}), self.family
        if family == "linear_regression":
            return x.select(_dot(p["coef"], float(p["intercept"])).alias("y")).to_series()
        if family == "logistic_regression":
            scores = [_dot(row, float(b)) for row, b in zip(p["coef"], p["intercept"], strict=True)]
            if len(scores) == 1:
                return x.select((scores[0] > 0).cast(pl.Int64).alias("y")).to_series()
            return _arg(x, scores, "arg_max")
        if family == "gaussian_nb":
            scores = []
            for prior, theta, var in zip(p["class_prior"], p["theta"], p["var"], strict=True):
                spread = -0.5 * sum(math.log(2.0 * math.pi * v) for v in var)
                distance = pl.sum_horizontal(
                    [
                        (pl.col(f"x{i}") - t) ** 2 / v
                        for i, (t, v) in enumerate(zip(theta, var, strict=True))
                    ]
                )
                scores.append(_log(float(prior)) + spread - 0.5 * distance)
            return _arg(x, scores, "arg_max")
        if family == "kmeans":
            distances = [
                pl.sum_horizontal([(pl.col(f"x{i}") - c) ** 2 for i, c in enumerate(centroid)])
                for centroid in p["centroids"]
            ]
            return _arg(x, distances, "arg_min")
        if family == "random_forest":
            return _forest(x, p["trees"])
        if family == "mlp":
            return self._mlp(x)
        raise E.InvalidRequest(f"unknown model family {family!r}: update the client")

    def _mlp(self, x: pl.DataFrame) -> pl.Series:
        try:
            import numpy as np
        except ImportError as err:  # pragma: no cover - safetensors needs numpy
            raise ImportError(f"an MLP's predictions need numpy: {MODELS_EXTRA}") from err
        activation = self.header["hyperparameters"]["activation"]
        layers = sorted({int(name.split(".")[0]) for name in self.weights})
        h = x.to_numpy().astype(np.float32)
        for i, layer in enumerate(layers):
            h = h @ self.weights[f"{layer}.weight"].T + self.weights[f"{layer}.bias"]
            if i < len(layers) - 1:
                h = np.maximum(h, 0) if activation == "relu" else np.tanh(h)
        return pl.Series("y", np.argmax(h, axis=1).tolist(), dtype=pl.Int64)

    def __repr__(self) -> str:
        return f"Model({self.family}, inputs={len(self.header.get('inputs', []))})"


def _arg(x: pl.DataFrame, scores: list[pl.Expr], how: str) -> pl.Series:
    listed = pl.concat_list(scores)
    best = listed.list.arg_max() if how == "arg_max" else listed.list.arg_min()
    return x.select(best.cast(pl.Int64).alias("y")).to_series()


def _forest(x: pl.DataFrame, trees: Sequence[Mapping[str, Any]]) -> pl.Series:
    """Majority of the trees' mean class distribution; inputs compared as float32."""
    rows = x.select(pl.all().cast(pl.Float32).cast(pl.Float64)).rows()
    out: list[int] = []
    for row in rows:
        total: list[float] = []
        for tree in trees:
            node = tree
            while "value" not in node:
                node = node["left"] if row[node["feature"]] <= node["threshold"] else node["right"]
            value = node["value"]
            total = [a + b for a, b in zip(total, value, strict=True)] if total else list(value)
        out.append(max(range(len(total)), key=lambda i: (total[i], -i)))
    return pl.Series("y", out, dtype=pl.Int64)


def _metadata(content: bytes) -> dict[str, str]:
    """A safetensors file's ``__metadata__``: an 8-byte little-endian length, then JSON."""
    try:
        (size,) = struct.unpack("<Q", content[:8])
        header = json.loads(content[8 : 8 + size])
    except (struct.error, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise E.InvalidRequest("not a safetensors file") from err
    return dict(header.get("__metadata__") or {})
