"""Training data for the training kind: one row per person, a keyed split, declared encodings.

Everything here is a per-row transformation or a partition whose rule does
not depend on anyone else's data, so the DP guarantees of the models and
of the holdout metrics hold per person:

- **one row per privacy unit**: when a person has several rows, DP per row
  would not be DP per person, so a keyed hash of each row picks one row per
  unit (the choice depends only on that person's own rows); rows whose unit
  is null or NaN are no one's and are dropped first (kept, they would pool
  different people into one and lose all but one of them at random — a
  choice that would depend on the others' rows);
- **holdout split**: a keyed hash of the privacy unit (or of the whole row
  when every row is a person) sends each person to the training or the
  holdout part, independently of everyone else; the two parts hold disjoint
  people, which is what parallel composition needs;
- **encoding**: numeric features are clipped to the declared bounds and
  scaled to [0, 1]; categorical features are one-hot over the declared
  categories. Bounds and categories come from the spec, never the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from jobs.kinds.train.spec import TrainFeature, TrainLabel
from jobs.privacy_unit import known_unit
from jobs.spec import Scalar

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_HASH_BUCKETS = 1 << 20
_ROW_HASH = "__train_row_hash"


@dataclass(frozen=True, slots=True)
class Split:
    """Encoded inputs and labels of the training and holdout parts (sensitive: stays in the job).

    Attributes:
        x_train: Training inputs, each in [0, 1].
        y_train: Training labels (class indices, or clipped numeric targets); ``None`` unsupervised.
        x_holdout: Holdout inputs.
        y_holdout: Holdout labels.
    """

    x_train: FloatArray
    y_train: npt.NDArray[np.float64] | IntArray | None
    x_holdout: FloatArray
    y_holdout: npt.NDArray[np.float64] | IntArray | None


def as_text(value: Scalar) -> str:
    """A declared category as polars spells the value cast to text (``True`` → ``"true"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def used_columns(features: Sequence[TrainFeature], label: TrainLabel | None) -> list[str]:
    """The columns a spec reads, features first."""
    return [f.column for f in features] + ([label.column] if label else [])


def prepare(
    frame: pl.DataFrame,
    features: Sequence[TrainFeature],
    label: TrainLabel | None,
    privacy_unit: str | None,
    holdout_fraction: float,
    key: int,
) -> Split:
    """One row per person, usable rows only, split by a keyed hash, encoded.

    Args:
        frame: The dataset's used columns (and its privacy-unit column).
        features: Declared features.
        label: Declared label, or ``None``.
        privacy_unit: The column naming a person, or ``None`` when each row is one.
        holdout_fraction: Share of people in the holdout part.
        key: Secret seed of the hashes (fresh per job).

    Returns:
        The encoded parts.
    """
    columns = used_columns(features, label)
    hashed = pl.struct(columns).hash(seed=key)
    if privacy_unit is not None:
        frame = (
            frame.filter(known_unit(privacy_unit, frame.schema[privacy_unit]))
            .with_columns(hashed.alias(_ROW_HASH))
            .filter(pl.col(_ROW_HASH) == pl.col(_ROW_HASH).min().over(privacy_unit))
            .unique(subset=[privacy_unit], keep="first", maintain_order=True)
        )
        person = pl.col(privacy_unit).hash(seed=key)
    else:
        person = hashed
    # The split rule sees one person at a time: a keyed hash bucket, not a shuffle of everyone.
    frame = frame.with_columns(
        ((person % _HASH_BUCKETS) < round(holdout_fraction * _HASH_BUCKETS)).alias("__holdout")
    )
    numeric = [f.column for f in features if f.categories is None]
    if label is not None and label.classes is None:
        numeric.append(label.column)
    frame = frame.drop_nulls(subset=numeric)
    y: npt.NDArray[np.float64] | IntArray | None = None
    if label is not None:
        frame, y = encode_label(frame, label)
    x = encode_features(frame, features)
    holdout = frame["__holdout"].to_numpy().astype(bool)
    return Split(
        x_train=x[~holdout],
        y_train=None if y is None else y[~holdout],
        x_holdout=x[holdout],
        y_holdout=None if y is None else y[holdout],
    )


def encode_features(frame: pl.DataFrame, features: Sequence[TrainFeature]) -> FloatArray:
    """The model inputs: numeric clipped and scaled to [0, 1], categorical one-hot.

    A numeric null encodes as the lower bound; a categorical null or undeclared
    value as all zeros (training drops rows with numeric nulls first).
    """
    exprs: list[pl.Expr] = []
    for f in features:
        if f.categories is None:
            lower, upper = float(f.lower or 0.0), float(f.upper or 0.0)
            exprs.append(
                ((pl.col(f.column).cast(pl.Float64).clip(lower, upper) - lower) / (upper - lower))
                .fill_null(0.0)
                .alias(f"{f.column}")
            )
            continue
        text = pl.col(f.column).cast(pl.String)
        for i, category in enumerate(f.categories):
            exprs.append(
                (text == as_text(category))
                .fill_null(False)
                .cast(pl.Float64)
                .alias(f"{f.column}#{i}")
            )
    if frame.height == 0:
        return np.zeros((0, len(exprs)), dtype=np.float64)
    return np.ascontiguousarray(frame.select(exprs).to_numpy(), dtype=np.float64)


def encode_label(
    frame: pl.DataFrame, label: TrainLabel
) -> tuple[pl.DataFrame, npt.NDArray[np.float64] | IntArray]:
    """Rows with a usable label and the label's encoding.

    Declared classes give class indices (rows with another value are left
    out); a threshold gives 1 at or above it and 0 below; bounds give the
    value clipped to them.
    """
    column = pl.col(label.column)
    if label.classes is not None:
        text = column.cast(pl.String)
        index = pl.lit(None, dtype=pl.Int64)
        for i, cls in reversed(list(enumerate(label.classes))):
            index = pl.when(text == as_text(cls)).then(pl.lit(i, dtype=pl.Int64)).otherwise(index)
        frame = frame.with_columns(index.alias("__label")).drop_nulls(subset=["__label"])
        return frame, frame["__label"].to_numpy().astype(np.int64)
    if label.threshold is not None:
        encoded = (column.cast(pl.Float64) >= label.threshold).cast(pl.Int64)
        frame = frame.with_columns(encoded.alias("__label"))
        return frame, frame["__label"].to_numpy().astype(np.int64)
    lower, upper = float(label.lower or 0.0), float(label.upper or 0.0)
    frame = frame.with_columns(column.cast(pl.Float64).clip(lower, upper).alias("__label"))
    return frame, frame["__label"].to_numpy().astype(np.float64)


def input_names(features: Sequence[TrainFeature]) -> list[str]:
    """Names of the encoded inputs, in order (``column`` or ``column=category``)."""
    names: list[str] = []
    for f in features:
        if f.categories is None:
            names.append(f.column)
        else:
            names.extend(f"{f.column}={as_text(c)}" for c in f.categories)
    return names
