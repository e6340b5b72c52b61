"""The spec of a differentially private model: its family, features and label."""

from __future__ import annotations

import math
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from jobs.spec import (
    MAX_DELTA_PER_JOB,
    MAX_EPSILON_PER_JOB,
    MIN_EPSILON_PER_JOB,
    Identifier,
    Scalar,
    SpecModel,
    check_bounds,
)

__all__ = [
    "MAX_CATEGORIES",
    "MAX_CLASSES",
    "MAX_TRAIN_INPUTS",
    "AnyTrainModel",
    "GaussianNBModel",
    "KMeansModel",
    "LinearRegressionModel",
    "LogisticRegressionModel",
    "MLPModel",
    "RandomForestModel",
    "TrainFeature",
    "TrainLabel",
    "TrainModel",
    "TrainSpec",
]

#: Largest width of a model's input after one-hot encoding.
MAX_TRAIN_INPUTS = 200
MAX_CATEGORIES = 100
MAX_CLASSES = 20


def _check_distinct(values: list[Scalar], what: str) -> None:
    if len({(type(v).__name__, v) for v in values}) != len(values):
        raise ValueError(f"{what} must be distinct")


class TrainFeature(SpecModel):
    """One model input: a numeric column with declared bounds, or a categorical one.

    A numeric value is clipped to ``[lower, upper]`` and scaled to [0, 1]; a
    categorical value is one-hot encoded over the declared ``categories``
    (a value outside them encodes as all zeros). The bounds and categories
    are the operator's declaration, never read from the data.
    """

    column: Identifier
    lower: float | None = None
    upper: float | None = None
    categories: list[Scalar] | None = Field(default=None, min_length=2, max_length=MAX_CATEGORIES)

    @model_validator(mode="after")
    def _numeric_or_categorical(self) -> Self:
        if self.categories is not None:
            if self.lower is not None or self.upper is not None:
                raise ValueError("a feature has either bounds (numeric) or categories, not both")
            _check_distinct(self.categories, "categories")
            return self
        if self.lower is None or self.upper is None:
            raise ValueError("a numeric feature needs lower and upper bounds (or give categories)")
        check_bounds(self.lower, self.upper)
        return self

    @property
    def width(self) -> int:
        """Number of model inputs the feature encodes to."""
        return 1 if self.categories is None else len(self.categories)


class TrainLabel(SpecModel):
    """What a model predicts.

    Exactly one of:

    - ``classes``: a categorical column with its declared classes (rows whose
      label is not one of them are left out);
    - ``threshold``: a numeric column turned into a binary label, class 1 when
      the value is at least the threshold, class 0 below;
    - ``lower`` and ``upper``: a numeric target clipped to these bounds
      (linear regression).
    """

    column: Identifier
    classes: list[Scalar] | None = Field(default=None, min_length=2, max_length=MAX_CLASSES)
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        bounded = self.lower is not None or self.upper is not None
        kinds = (self.classes is not None) + (self.threshold is not None) + bounded
        if kinds != 1:
            raise ValueError("a label has exactly one of: classes, threshold, or lower and upper")
        if self.classes is not None:
            _check_distinct(self.classes, "classes")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ValueError("threshold must be a finite number")
        if bounded:
            if self.lower is None or self.upper is None:
                raise ValueError("a numeric label needs both lower and upper")
            check_bounds(self.lower, self.upper)
        return self

    @property
    def is_classification(self) -> bool:
        """Whether the label is a class (declared classes or a threshold)."""
        return self.classes is not None or self.threshold is not None


class LogisticRegressionModel(SpecModel):
    """diffprivlib's logistic regression (objective perturbation; one-vs-rest, ε split by class).

    Attributes:
        C: Inverse regularization strength. Objective perturbation spends
            2·ln(1 + data_norm·C/4) of ε on the regularizer alone (Chaudhuri et
            al. 2011), so on inputs scaled to [0, 1] a small C (default 0.1)
            leaves more of ε for the fit than diffprivlib's default of 1.
    """

    type: Literal["logistic_regression"]
    C: float = Field(default=0.1, gt=0.0, le=1e4)
    max_iter: int = Field(default=100, ge=1, le=1000)


class LinearRegressionModel(SpecModel):
    """diffprivlib's linear regression (functional mechanism); the label needs bounds."""

    type: Literal["linear_regression"]


class GaussianNBModel(SpecModel):
    """diffprivlib's Gaussian naive Bayes (noisy class counts, means and variances)."""

    type: Literal["gaussian_nb"]


class KMeansModel(SpecModel):
    """diffprivlib's k-means (noisy Lloyd iterations); unsupervised: no label."""

    type: Literal["kmeans"]
    n_clusters: int = Field(ge=2, le=50)


class RandomForestModel(SpecModel):
    """diffprivlib's random forest: random trees, noisy leaf labels, disjoint subsets per tree."""

    type: Literal["random_forest"]
    n_estimators: int = Field(default=10, ge=1, le=100)
    max_depth: int = Field(default=5, ge=1, le=15)


class MLPModel(SpecModel):
    """A small multilayer perceptron classifier trained with opacus DP-SGD.

    Attributes:
        hidden_layers: Widths of the hidden layers (at most 4, each at most 256).
        batch_size: Expected batch size: each step samples every training row
            with probability ``batch_size / rows`` (Poisson sampling; rows is
            the catalogued row count), for ``epochs * rows / batch_size`` steps.
        max_grad_norm: Per-example gradient clipping norm.
        noise_multiplier: Gaussian noise σ relative to ``max_grad_norm``. When
            omitted, the smallest σ whose ε reaches the spec's ``epsilon`` is
            used; when given, the job is refused if its ε exceeds ``epsilon``.
    """

    type: Literal["mlp"]
    hidden_layers: list[Annotated[int, Field(ge=1, le=256)]] = Field(
        default_factory=lambda: [32], min_length=1, max_length=4
    )
    activation: Literal["relu", "tanh"] = "relu"
    epochs: int = Field(default=5, ge=1, le=50)
    batch_size: int = Field(default=64, ge=8, le=4096)
    optimizer: Literal["sgd", "adam"] = "adam"
    learning_rate: float = Field(default=0.01, gt=0.0, le=10.0)
    max_grad_norm: float = Field(default=1.0, gt=0.0, le=100.0)
    noise_multiplier: float | None = Field(default=None, ge=0.3, le=100.0)


AnyTrainModel = (
    LogisticRegressionModel
    | LinearRegressionModel
    | GaussianNBModel
    | KMeansModel
    | RandomForestModel
    | MLPModel
)
TrainModel = Annotated[AnyTrainModel, Field(discriminator="type")]


class TrainSpec(SpecModel):
    """A differentially private model trained on one dataset; see :mod:`jobs.kinds.train.engine`.

    diffprivlib models are pure ε-DP (``delta`` must be 0); the ``mlp`` is
    trained with DP-SGD, an (ε, δ) guarantee (``delta`` must be > 0). A
    person's rows count once: at most one row per privacy unit enters.

    Attributes:
        model: The model family and its hyper-parameters (discriminated by ``type``).
        features: Model inputs with declared bounds or categories.
        label: What the model predicts; none for ``kmeans``, bounds for
            ``linear_regression``, classes or a threshold for the classifiers.
        holdout_fraction: Share of people (chosen by a keyed hash, so the split
            does not depend on anyone else's data) kept out of training to
            measure the model with DP counts; 0 reports no metrics.
    """

    kind: Literal["train"]
    dataset: Identifier
    model: TrainModel
    features: list[TrainFeature] = Field(min_length=1, max_length=50)
    label: TrainLabel | None = None
    epsilon: float = Field(ge=MIN_EPSILON_PER_JOB, le=MAX_EPSILON_PER_JOB)
    delta: float = Field(default=0.0, ge=0.0, le=MAX_DELTA_PER_JOB)
    holdout_fraction: float = Field(default=0.2, ge=0.0, le=0.5)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        columns = [f.column for f in self.features]
        if len(set(columns)) != len(columns):
            raise ValueError("features list a column twice")
        if sum(f.width for f in self.features) > MAX_TRAIN_INPUTS:
            raise ValueError(f"features encode to more than {MAX_TRAIN_INPUTS} inputs")
        kind = self.model.type
        if kind == "kmeans":
            if self.label is not None:
                raise ValueError("kmeans is unsupervised: give no label")
        elif self.label is None:
            raise ValueError(f"{kind} needs a label")
        elif self.label.column in columns:
            raise ValueError("the label column cannot also be a feature")
        elif kind == "linear_regression" and self.label.is_classification:
            raise ValueError("linear_regression needs a numeric label with lower and upper")
        elif kind != "linear_regression" and not self.label.is_classification:
            raise ValueError(f"{kind} is a classifier: give the label classes or a threshold")
        if kind == "mlp" and self.delta <= 0.0:
            raise ValueError("DP-SGD (mlp) is (epsilon, delta)-DP: give delta > 0")
        if kind != "mlp" and self.delta != 0.0:
            raise ValueError(f"{kind} is pure epsilon-DP: set delta to 0")
        return self

    @property
    def datasets(self) -> list[str]:
        """The datasets the job reads."""
        return [self.dataset]
