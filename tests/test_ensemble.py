"""The GreenFactory-style ensemble on synthetic proxy scores with a known relation to accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from greenmachine.ensemble import feature_matrix, fit_ensemble
from greenmachine.errors import GreenmachineError


def synthetic(n=600, seed=0):
    rng = np.random.default_rng(seed)
    a, b, noise = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    accuracy = 90 + 2 * a + np.tanh(b) + 0.1 * noise
    return {"a": a, "b": b, "junk": rng.normal(size=n)}, accuracy


def test_forest_predicts_accuracy_on_unseen_archs_and_ranks_its_inputs():
    scores, accuracy = synthetic()
    result = fit_ensemble(scores, accuracy, np.arange(400), np.arange(400, 600), trees=100)
    assert result.n_train == 400 and result.n_test == 200
    assert result.kendall > 0.8 and result.spearman > 0.93
    assert result.mae < 0.6
    assert max(result.importances, key=result.importances.get) == "a"
    assert result.importances["junk"] < result.importances["b"]
    assert sum(result.importances.values()) == pytest.approx(1.0)


def test_same_seed_same_predictions_and_overlap_is_refused():
    scores, accuracy = synthetic(200)
    first = fit_ensemble(scores, accuracy, np.arange(100), np.arange(100, 200), seed=3, trees=20)
    second = fit_ensemble(scores, accuracy, np.arange(100), np.arange(100, 200), seed=3, trees=20)
    np.testing.assert_array_equal(first.predictions, second.predictions)
    with pytest.raises(GreenmachineError, match="overlap"):
        fit_ensemble(scores, accuracy, np.arange(120), np.arange(100, 200))


def test_infinities_are_clipped_and_nan_is_named():
    x = feature_matrix({"p": np.array([1.0, -np.inf, 3.0])})
    assert x[:, 0].tolist() == [1.0, 1.0, 3.0]
    with pytest.raises(GreenmachineError, match="proxy 'q' has NaN scores for 1 archs"):
        feature_matrix({"q": np.array([1.0, np.nan])})
