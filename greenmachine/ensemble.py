"""GreenFactory-style ensemble: a regressor over proxy scores (and graph features) that predicts accuracy itself.

Trained on some archs and evaluated on archs it never saw, it reports Kendall and Spearman of its
predictions and their mean absolute error in accuracy points, with the regressor's feature
importances. The regressors (REGRESSORS): `random_forest` (GreenFactory's choice) and `lightgbm`
(gradient boosting, as NAS-Bench-Suite-Zero's predictors used).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.ensemble import RandomForestRegressor

from greenmachine.errors import GreenmachineError
from greenmachine.finite import finite_in_order
from greenmachine.registry import Registry

# name -> factory(seed, trees, n_train) returning an unfitted scikit-learn-style regressor
REGRESSORS: Registry[Callable[[int, int, int], Any]] = Registry("regressor")


@REGRESSORS.register("random_forest")
def random_forest(seed: int, trees: int, n_train: int) -> RandomForestRegressor:
    """Return GreenFactory's regressor: a random forest of `trees` trees, leaves of at least 2 archs, one thread."""
    return RandomForestRegressor(n_estimators=trees, random_state=seed, n_jobs=1, min_samples_leaf=2)


@REGRESSORS.register("lightgbm")
def lightgbm(seed: int, trees: int, n_train: int) -> Any:
    """Return a LightGBM gradient-boosted ensemble of `trees` trees (learning rate 0.05, 31 leaves, one thread).

    Rows and columns are subsampled (0.8 each) and a leaf holds at least n_train / 50 archs (between 2 and
    20, LightGBM's default), so that a tree can still split 20 training archs. Settings fixed before any run.
    """
    from lightgbm import LGBMRegressor

    return LGBMRegressor(n_estimators=trees, learning_rate=0.05, num_leaves=31,
                         min_child_samples=int(np.clip(n_train // 50, 2, 20)), subsample=0.8, subsample_freq=1,
                         colsample_bytree=0.8, random_state=seed, n_jobs=1, verbose=-1)


def _importances(model: Any) -> np.ndarray:
    """Return the fitted model's feature importances normalised to sum 1 (LightGBM: total gain; forest: impurity)."""
    if hasattr(model, "booster_"):
        values = model.booster_.feature_importance(importance_type="gain").astype(np.float64)
    else:
        values = np.asarray(model.feature_importances_, dtype=np.float64)
    total = values.sum()
    return values / total if total > 0 else values


@dataclass(frozen=True)
class EnsembleResult:
    """A fitted ensemble's numbers on its test archs.

    Attributes:
        features: input names (proxies, then graph features), in column order.
        n_train, n_test: archs trained and evaluated on.
        kendall, spearman: rank correlation of predicted and true accuracy on the test archs.
        mae: mean absolute error of the predictions, in accuracy points.
        importances: importance of each feature (sums to 1; see REGRESSORS for what each regressor measures).
        predictions: predicted accuracy of each test arch, float [n_test].
        regressor: the REGRESSORS name that was fitted.
    """

    features: tuple[str, ...]
    n_train: int
    n_test: int
    kendall: float
    spearman: float
    mae: float
    importances: dict[str, float]
    predictions: np.ndarray
    regressor: str = "random_forest"


def feature_matrix(scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """Return the [N, F] float64 matrix of proxy scores, infinities made finite in order (`finite_in_order`).

    Raises GreenmachineError naming a column that has a NaN (drop those archs first) or no finite value at all.
    """
    columns = []
    for name, values in scores.items():
        v = np.asarray(values, dtype=np.float64)
        if np.isnan(v).any():
            raise GreenmachineError(f"proxy {name!r} has NaN scores for {int(np.isnan(v).sum())} archs; drop those archs first")
        if not np.isfinite(v).any():
            raise GreenmachineError(f"proxy {name!r} has no finite score")
        columns.append(finite_in_order(v, nan="keep"))
    return np.stack(columns, axis=1)


def fit_ensemble(scores: Mapping[str, np.ndarray], accuracy: np.ndarray, train: np.ndarray, test: np.ndarray,
                 seed: int = 0, trees: int = 500, regressor: str = "random_forest") -> EnsembleResult:
    """Fit a regressor on rows `train` of (scores -> accuracy) and return its numbers on rows `test`.

    Args:
        scores: input name -> values for every arch, float [N] (proxy scores, graph features).
        accuracy: ground-truth accuracy of every arch, float [N].
        train, test: disjoint row positions.
        seed: the regressor's random state.
        trees: number of trees.
        regressor: a REGRESSORS name; an unknown one raises UnknownNameError listing them.
    """
    make = REGRESSORS[regressor]
    train, test = np.asarray(train), np.asarray(test)
    if np.intersect1d(train, test).size:
        raise GreenmachineError("the ensemble's train and test archs overlap; they must be disjoint")
    x = feature_matrix(scores)
    y = np.asarray(accuracy, dtype=np.float64)
    model = make(seed, trees, len(train))
    model.fit(x[train], y[train])
    predicted = np.asarray(model.predict(x[test]), dtype=np.float64)
    return EnsembleResult(
        features=tuple(scores),
        n_train=len(train),
        n_test=len(test),
        kendall=float(stats.kendalltau(predicted, y[test])[0]),
        spearman=float(stats.spearmanr(predicted, y[test])[0]),
        mae=float(np.abs(predicted - y[test]).mean()),
        importances=dict(zip(scores, map(float, _importances(model)))),
        predictions=predicted,
        regressor=regressor,
    )
