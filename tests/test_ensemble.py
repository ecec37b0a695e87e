"""The GreenFactory-style ensemble (both regressors) on synthetic proxy scores with a known relation to accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from greenmachine.ensemble import REGRESSORS, feature_matrix, fit_ensemble
from greenmachine.errors import GreenmachineError, UnknownNameError


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


def test_infinities_keep_their_order_and_nan_is_named():
    x = feature_matrix({"p": np.array([1.0, -np.inf, 3.0])})  # the one policy: greenmachine.finite.finite_in_order
    assert x[:, 0].tolist() == pytest.approx([1.0, 1.0 - (0.01 * 2.0 + 1e-6), 3.0], abs=1e-12) and x[1, 0] < 1.0
    with pytest.raises(GreenmachineError, match="proxy 'q' has NaN scores for 1 archs"):
        feature_matrix({"q": np.array([1.0, np.nan])})


def test_gradient_boosting_predicts_and_ranks_its_inputs_like_the_forest():
    scores, accuracy = synthetic()
    result = fit_ensemble(scores, accuracy, np.arange(400), np.arange(400, 600), trees=200, regressor="lightgbm")
    assert result.regressor == "lightgbm" and result.n_train == 400
    assert result.kendall > 0.8 and result.mae < 0.6
    assert max(result.importances, key=result.importances.get) == "a"
    assert result.importances["junk"] < result.importances["b"]
    assert sum(result.importances.values()) == pytest.approx(1.0)
    again = fit_ensemble(scores, accuracy, np.arange(400), np.arange(400, 600), trees=200, regressor="lightgbm")
    np.testing.assert_array_equal(result.predictions, again.predictions)


def test_twenty_training_archs_are_enough_to_split_and_an_unknown_regressor_is_named():
    scores, accuracy = synthetic(220)
    for regressor in REGRESSORS.names():
        result = fit_ensemble(scores, accuracy, np.arange(20), np.arange(20, 220), trees=50, regressor=regressor)
        assert np.unique(result.predictions).size > 5 and result.kendall > 0.5, regressor
    with pytest.raises(UnknownNameError, match="unknown regressor 'xgb'"):
        fit_ensemble(scores, accuracy, np.arange(20), np.arange(20, 40), regressor="xgb")


@pytest.mark.slow
def test_command_adds_graph_features_and_fits_the_chosen_regressor(tmp_path):
    """`greenmachine ensemble graph_features=true regressor=lightgbm` on the plug-in example (network-read features)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    plugin = f"{Path(__file__).resolve().parents[1] / 'experiments' / 'plugin_space' / 'tiny_cnn.py'}:TinyCNN"
    result = subprocess.run(
        [sys.executable, "-m", "greenmachine", "ensemble", "space=plugin", f"space._target_={plugin}", "train=10",
         "trees=20", "proxies=[synflow,params]", "graph_features=true", "regressor=lightgbm", "tracking=none",
         "workers=1", "progress=false", "probe.batch_size=8", "statistics=lean", f"cache_dir={tmp_path / 'cache'}",
         f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ensemble (lightgbm), tiny_cnn cifar10" in result.stdout and "2 proxies and 55 graph features" in result.stdout
    summary = json.loads((tmp_path / "run" / "ensemble.json").read_text())
    assert summary["regressor"] == "lightgbm" and "graph.paths" in summary["features"]


@pytest.mark.parametrize(("arg", "message"), [("regressor=xgb", "unknown regressor 'xgb'; valid: lightgbm, random_forest"),
                                              ("graph_features=maybe", "unknown graph_features 'maybe'; valid: False, True")])
def test_a_bad_regressor_or_graph_switch_is_one_clear_line_before_any_work(monkeypatch, tmp_path, capsys, arg, message):
    import sys

    from greenmachine.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setenv("GREENMACHINE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SystemExit) as exit_:
        main(["ensemble", arg, "tracking=none"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert f"greenmachine ensemble: error: {message}" in err
    assert not (tmp_path / "cache").exists()
