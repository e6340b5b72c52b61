"""diffprivlib models for the training kind: fit on encoded inputs, export as plain JSON, predict.

Every input is already scaled to [0, 1] (:mod:`jobs.kinds.train.data`), so each
model gets the declared, data-independent bounds ``[0, 1]`` per input, and
logistic regression gets ``data_norm`` = √(number of features): a numeric
feature adds at most 1 to a row's squared norm and a one-hot group at most
1 too. Nothing is read from the data to set a bound, so diffprivlib never
raises its ``PrivacyLeakWarning``.

All five models are pure ε-DP in diffprivlib; their noise is diffprivlib's
(vetted mechanisms, not ours). Its guarantees are stated for datasets that
differ in one row, and a few of its calibrations use the training part's
size (logistic regression's regularizer, naive Bayes' class-count
clamping), as its papers do. Classes are always the declared ones
(scikit-learn would read them from the data); naive Bayes still gives a
class absent from the training part a prior of exactly 0, a known
diffprivlib trait: declare classes that are not rare. Parameters leave as JSON only — coefficients,
centroids, means and variances, trees as nested nodes — never a pickle, and
:func:`predict` rebuilds predictions from that JSON with numpy alone.

References:
    Chaudhuri, K., Monteleoni, C., Sarwate, A. (2011). Differentially private
    empirical risk minimization. JMLR (logistic regression).
    Zhang, J. et al. (2012). Functional mechanism. VLDB (linear regression).
    Vaidya, J. et al. (2013). Differentially private naive Bayes classification.
    Su, D. et al. (2016). Differentially private k-means clustering. CODASPY.
    Fletcher, S., Islam, M. Z. (2019). Differentially private random decision
    forests using smooth sensitivity (diffprivlib's random trees).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from jobs.kinds.train.spec import (
    AnyTrainModel,
    GaussianNBModel,
    KMeansModel,
    LinearRegressionModel,
    LogisticRegressionModel,
    RandomForestModel,
)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Fitted:
    """A fitted model: its JSON parameters, the library's estimator, whether it converged.

    Attributes:
        params: JSON-ready parameters (lists of floats), the whole model.
        estimator: The diffprivlib estimator (scikit-learn API), kept in memory only.
        converged: ``False`` when the solver stopped at its iteration limit.
    """

    params: dict[str, Any]
    estimator: Any
    converged: bool = True


def fit(
    model: AnyTrainModel,
    x: FloatArray,
    y: npt.NDArray[Any] | None,
    target: tuple[int, tuple[float, float] | None],
    epsilon: float,
    seed: int,
    data_norm: float | None = None,
) -> Fitted:
    """Fit a diffprivlib model on inputs in [0, 1] with budget ``epsilon`` (pure ε-DP).

    Args:
        model: The spec's model (any family but ``mlp``).
        x: Encoded training inputs.
        y: Class indices ``0..n_classes-1``, numeric targets, or ``None`` (k-means).
        target: Number of declared classes (0 when not a classifier) and the
            declared label bounds (regression) or ``None``.
        epsilon: The whole training budget.
        seed: Seed of diffprivlib's randomness.
        data_norm: Declared bound on a row's ℓ2 norm (logistic regression):
            √(number of spec features), as each numeric feature and each
            one-hot group adds at most 1 to the squared norm; default √(inputs).

    Returns:
        The fitted parameters.
    """
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        # Convergence is a utility fact, reported; every other warning still surfaces.
        warnings.simplefilter("always", ConvergenceWarning)
        # diffprivlib 0.6.6 passes scipy's deprecated ``iprint``; harmless until SciPy 1.18.
        warnings.filterwarnings(
            "ignore", message="scipy.optimize: The `disp` and `iprint`", category=DeprecationWarning
        )
        params, estimator = _fit(model, x, y, target, epsilon, seed, data_norm)
    converged = True
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            converged = False
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return Fitted(params, estimator, converged)


def _fit(
    model: AnyTrainModel,
    x: FloatArray,
    y: npt.NDArray[Any] | None,
    target: tuple[int, tuple[float, float] | None],
    epsilon: float,
    seed: int,
    data_norm: float | None,
) -> tuple[dict[str, Any], Any]:
    n_classes, label_bounds = target
    d = x.shape[1]
    bounds = (np.zeros(d), np.ones(d))
    if isinstance(model, LogisticRegressionModel):
        norm = math.sqrt(d) if data_norm is None else data_norm
        return _logistic(model, x, np.asarray(y), n_classes, (epsilon, norm), seed)
    if isinstance(model, LinearRegressionModel):
        from diffprivlib.models import LinearRegression

        lr = LinearRegression(
            epsilon=epsilon, bounds_X=bounds, bounds_y=label_bounds, random_state=seed
        )
        lr.fit(x, np.asarray(y, dtype=np.float64))
        params = {
            "coef": np.ravel(lr.coef_).tolist(),
            "intercept": float(np.ravel(lr.intercept_)[0]),
        }
        return params, lr
    if isinstance(model, GaussianNBModel):
        from diffprivlib.models import GaussianNB

        nb = GaussianNB(epsilon=epsilon, bounds=bounds, random_state=seed)
        # Declared classes, not the ones seen: which classes occur is not released by the fit.
        nb.partial_fit(x, np.asarray(y), classes=np.arange(n_classes))
        params = {
            "theta": nb.theta_.tolist(),
            "var": nb.var_.tolist(),
            "class_prior": nb.class_prior_.tolist(),
        }
        return params, nb
    if isinstance(model, KMeansModel):
        from diffprivlib.models import KMeans

        km = KMeans(n_clusters=model.n_clusters, epsilon=epsilon, bounds=bounds, random_state=seed)
        km.fit(x)
        return {"centroids": km.cluster_centers_.tolist()}, km
    if isinstance(model, RandomForestModel):
        from diffprivlib.models import RandomForestClassifier

        forest = RandomForestClassifier(
            n_estimators=model.n_estimators,
            epsilon=epsilon,
            bounds=bounds,
            classes=np.arange(n_classes),
            max_depth=model.max_depth,
            random_state=seed,
        )
        forest.fit(x, np.asarray(y))
        return {"trees": [_tree(est.tree_) for est in forest.estimators_]}, forest
    raise TypeError(f"{model.type} is not a diffprivlib model")  # pragma: no cover


def _logistic(
    model: LogisticRegressionModel, x: FloatArray, y: npt.NDArray[Any], n_classes: int,
    budget: tuple[float, float], seed: int,
) -> tuple[dict[str, Any], Any]:  # fmt: skip
    """Logistic regression over the *declared* classes, as diffprivlib's ``fit`` does it.

    diffprivlib's ``LogisticRegression.fit`` takes the classes from the data
    (``np.unique(y)``) and fails when one is missing: both reveal which
    classes occur. This calls its per-class solver
    (``_logistic_regression_path``, diffprivlib 0.6.6 is pinned) exactly as
    ``fit`` does — one binary problem for two classes, one-vs-rest with ε
    split evenly over the classes otherwise — but over the declared classes.
    """
    from diffprivlib.models.logistic_regression import _logistic_regression_path
    from sklearn.utils import check_random_state

    epsilon, data_norm = budget
    x = _clip_to_norm(x, data_norm)
    positives = [1] if n_classes == 2 else list(range(n_classes))
    rng = check_random_state(seed)
    rows = []
    for positive in positives:
        coefs, _, _ = _logistic_regression_path(
            x, (y == positive).astype(np.int64), epsilon=epsilon / len(positives),
            data_norm=data_norm, pos_class=1, Cs=[model.C], fit_intercept=True,
            max_iter=model.max_iter, random_state=rng, check_input=False,
        )  # fmt: skip
        rows.append(np.ravel(coefs[0]))
    from sklearn.linear_model import LogisticRegression

    stacked = np.asarray(rows)
    # What diffprivlib's own fit would leave, on scikit-learn's estimator (diffprivlib 0.6.6's
    # LogisticRegression cannot be built with scikit-learn 1.8: it passes ``multi_class``).
    estimator = LogisticRegression(C=model.C)
    estimator.classes_ = np.arange(n_classes)
    estimator.coef_, estimator.intercept_ = stacked[:, :-1], stacked[:, -1]
    estimator.n_features_in_ = x.shape[1]
    return {"coef": estimator.coef_.tolist(), "intercept": estimator.intercept_.tolist()}, estimator


def _clip_to_norm(x: FloatArray, norm: float) -> FloatArray:
    """Rows scaled into the ℓ2 ball of radius ``norm`` (a no-op for inputs in [0, 1])."""
    lengths = np.linalg.norm(x, axis=1)
    factor = np.minimum(1.0, norm / np.maximum(lengths, 1e-300))
    return np.asarray(x * factor[:, None], dtype=np.float64)


def _tree(tree: Any) -> dict[str, Any]:
    """One fitted tree as nested nodes: ``{feature, threshold, left, right}`` or ``{value}``.

    A leaf's value is its class distribution (normalized as scikit-learn's
    ``predict_proba`` does); an input goes left when ``x[feature] <= threshold``.
    """

    def node(i: int) -> dict[str, Any]:
        left, right = int(tree.children_left[i]), int(tree.children_right[i])
        if left == -1:
            counts = np.asarray(tree.value[i][0], dtype=np.float64)
            total = counts.sum()
            return {"value": (counts / total if total > 0 else counts).tolist()}
        return {
            "feature": int(tree.feature[i]),
            "threshold": float(tree.threshold[i]),
            "left": node(left),
            "right": node(right),
        }

    return node(0)


def predict(kind: str, params: dict[str, Any], x: FloatArray) -> npt.NDArray[Any]:
    """Predictions from JSON parameters alone (numpy; no diffprivlib object, no pickle).

    Args:
        kind: The model family.
        params: The ``parameters`` of an exported model.
        x: Encoded inputs.

    Returns:
        Class indices (classifiers), cluster indices (k-means) or values (regression).
    """
    if kind == "logistic_regression":
        scores = x @ np.asarray(params["coef"]).T + np.asarray(params["intercept"])
        if scores.shape[1] == 1:
            return np.asarray(scores[:, 0] > 0, dtype=np.int64)
        return np.asarray(np.argmax(scores, axis=1), dtype=np.int64)
    if kind == "linear_regression":
        return np.asarray(x @ np.asarray(params["coef"]) + params["intercept"], dtype=np.float64)
    if kind == "gaussian_nb":
        theta, var = np.asarray(params["theta"]), np.asarray(params["var"])
        with np.errstate(divide="ignore"):
            log_prior = np.log(np.asarray(params["class_prior"]))
        spread = -0.5 * np.sum(np.log(2.0 * np.pi * var), axis=1)
        distance = -0.5 * np.sum((x[:, None, :] - theta[None]) ** 2 / var[None], axis=2)
        return np.asarray(np.argmax(log_prior + spread + distance, axis=1), dtype=np.int64)
    if kind == "kmeans":
        centroids = np.asarray(params["centroids"])
        distances = ((x[:, None, :] - centroids[None]) ** 2).sum(axis=2)
        return np.asarray(np.argmin(distances, axis=1), dtype=np.int64)
    if kind == "random_forest":
        # scikit-learn compares tree thresholds with float32 inputs.
        x32 = x.astype(np.float32).astype(np.float64)
        proba = np.mean([_tree_proba(t, x32) for t in params["trees"]], axis=0)
        return np.asarray(np.argmax(proba, axis=1), dtype=np.int64)
    raise ValueError(f"unknown model family {kind!r}")


def _tree_proba(tree: dict[str, Any], x: FloatArray) -> FloatArray:
    out: FloatArray | None = None
    stack = [(tree, np.arange(x.shape[0]))]
    while stack:
        node, rows = stack.pop()
        if "value" in node:
            value = np.asarray(node["value"], dtype=np.float64)
            if out is None:
                out = np.zeros((x.shape[0], value.size))
            out[rows] = value
            continue
        go_left = x[rows, node["feature"]] <= node["threshold"]
        stack.append((node["left"], rows[go_left]))
        stack.append((node["right"], rows[~go_left]))
    assert out is not None
    return out
