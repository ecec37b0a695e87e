"""GreenFactory-style ensemble: a random forest over proxy scores that predicts accuracy itself.

Trained on some archs and evaluated on archs it never saw, it reports Kendall and Spearman of its
predictions and their mean absolute error in accuracy points, with the forest's feature
importances.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.ensemble import RandomForestRegressor

from greenmachine.errors import GreenmachineError


@dataclass(frozen=True)
class EnsembleResult:
    """A fitted ensemble's numbers on its test archs.

    Attributes:
        features: proxy names, in column order.
        n_train, n_test: archs trained and evaluated on.
        kendall, spearman: rank correlation of predicted and true accuracy on the test archs.
        mae: mean absolute error of the predictions, in accuracy points.
        importances: impurity-based importance of each feature (sums to 1).
        predictions: predicted accuracy of each test arch, float [n_test].
    """

    features: tuple[str, ...]
    n_train: int
    n_test: int
    kendall: float
    spearman: float
    mae: float
    importances: dict[str, float]
    predictions: np.ndarray


def feature_matrix(scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """Return the [N, F] matrix of proxy scores with infinities clipped to each column's finite range.

    Raises GreenmachineError naming a column that has a NaN or no finite value at all.
    """
    columns = []
    for name, values in scores.items():
        v = np.asarray(values, dtype=np.float64)
        if np.isnan(v).any():
            raise GreenmachineError(f"proxy {name!r} has NaN scores for {int(np.isnan(v).sum())} archs; drop those archs first")
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            raise GreenmachineError(f"proxy {name!r} has no finite score")
        columns.append(np.clip(v, finite.min(), finite.max()))
    return np.stack(columns, axis=1)


def fit_ensemble(scores: Mapping[str, np.ndarray], accuracy: np.ndarray, train: np.ndarray, test: np.ndarray,
                 seed: int = 0, trees: int = 500) -> EnsembleResult:
    """Fit a random forest on rows `train` of (scores -> accuracy) and return its numbers on rows `test`.

    Args:
        scores: proxy name -> scores of every arch, float [N].
        accuracy: ground-truth accuracy of every arch, float [N].
        train, test: disjoint row positions.
        seed: the forest's random state.
        trees: number of trees.
    """
    train, test = np.asarray(train), np.asarray(test)
    if np.intersect1d(train, test).size:
        raise GreenmachineError("the ensemble's train and test archs overlap; they must be disjoint")
    x = feature_matrix(scores)
    y = np.asarray(accuracy, dtype=np.float64)
    forest = RandomForestRegressor(n_estimators=trees, random_state=seed, n_jobs=1, min_samples_leaf=2)
    forest.fit(x[train], y[train])
    predicted = forest.predict(x[test])
    return EnsembleResult(
        features=tuple(scores),
        n_train=len(train),
        n_test=len(test),
        kendall=float(stats.kendalltau(predicted, y[test])[0]),
        spearman=float(stats.spearmanr(predicted, y[test])[0]),
        mae=float(np.abs(predicted - y[test]).mean()),
        importances=dict(zip(scores, map(float, forest.feature_importances_))),
        predictions=predicted,
    )
