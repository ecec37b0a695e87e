"""`greenmachine ensemble`: a GreenFactory-style regressor over proxy scores (and graph features) that predicts accuracy."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from greenmachine.benchmark import fixed_holdout, load_benchmark
from greenmachine.benchmark.sampling import SampleProtocol, draw_sample
from greenmachine.commands import (command, command_line, compute_settings, note_own_settings, plain, probe_settings,
                                   proxies_of, statistics_settings, target_of, track)
from greenmachine.data import make_probe
from greenmachine.energy import ESTIMATED, EnergyMeter
from greenmachine.ensemble import REGRESSORS, fit_ensemble
from greenmachine.errors import check_choice
from greenmachine.files import atomic_write_text
from greenmachine.graph import graph_feature_table
from greenmachine.markdown import markdown_table
from greenmachine.scoring import score_archs
from greenmachine.spaces import get_space
from greenmachine.tracking import Headline, run_name


@command("ensemble", "GreenFactory-style regressor over proxy scores and graph features: predicts accuracy of unseen archs")
def ensemble(cfg: DictConfig) -> dict[str, object]:
    """Train on `train` random archs outside the evaluation holdout, report on the holdout; write JSON and Markdown.

    The training archs are the random search sample a `greenmachine search sampling=random` with the
    same seed draws, so the two share their cached statistics. `graph_features=true` adds each arch's
    graph features (`graph.<name>`, SearchSpace.graph_features) to the proxies; `regressor` picks the model.
    """
    regressor = str(cfg.regressor)
    REGRESSORS[regressor]  # an unknown name stops here, before any statistics are computed
    check_choice("graph_features", cfg.graph_features, (True, False))
    target = target_of(cfg)
    space, dataset, metric, epochs = target.space, target.dataset, target.metric, target.epochs
    published = get_space(space).published.get(("GreenFactory", dataset))
    bench = load_benchmark(space, data_dir=cfg.data_dir)
    accuracy = bench.accuracies(dataset, metric, epochs)
    test = fixed_holdout(bench, None, dataset, metric, epochs)
    protocol = SampleProtocol(strategy="random", n=int(cfg.train), holdout_n=0, dataset=dataset, metric=metric,
                              epochs=epochs, seed=int(cfg.seed), exclude=tuple(int(a) for a in test))
    train = np.sort(draw_sample(bench, protocol).search)
    proxies = proxies_of(plain(cfg)["proxies"])
    _, options = statistics_settings(cfg)
    note_own_settings(proxies, options)
    compute = compute_settings(cfg)
    probe = make_probe(dataset, probe_settings(cfg), compute.data_dir)
    out = Path(HydraConfig.get().runtime.output_dir)
    name = run_name("ensemble", f"{space}/{dataset}", regressor, f"train {int(cfg.train)}", f"{len(proxies)} proxies",
                    f"seed {int(cfg.seed)}")
    with track(cfg, name, {"space": space, "dataset": dataset}) as tracker:  # opened before the statistics
        scored = score_archs(proxies, space, dataset, np.concatenate([train, test]), options, probe, compute)
        archs, scores = scored.archs, dict(scored.scores)
        if cfg.graph_features:
            graph = graph_feature_table(get_space(space), [int(a) for a in archs])
            scores.update({f"graph.{name}": values for name, values in graph.items()})
        rows = np.arange(len(archs))
        is_train = np.isin(archs, train)
        meter = EnergyMeter()
        mark = meter.mark()
        result = fit_ensemble(scores, accuracy[archs], rows[is_train], rows[~is_train], seed=int(cfg.seed),
                              trees=int(cfg.trees), regressor=regressor)
        fit_energy = meter.since(mark)
        n_graph = sum(name.startswith("graph.") for name in scores)
        out.mkdir(parents=True, exist_ok=True)
        summary = {k: v for k, v in asdict(result).items() if k != "predictions"}
        summary.update(space=space, dataset=dataset, published_greenfactory_kendall=published,
                       **scored.energy.metrics("statistics"), **fit_energy.metrics("fit"))
        atomic_write_text(out / "ensemble.json", json.dumps(summary, indent=2))
        lines = [f"# Ensemble ({regressor}), {space} {dataset} ({metric})", "",
                 f"Trained on {result.n_train} archs, evaluated on the {result.n_test}-arch evaluation holdout; inputs: "
                 f"{len(scores) - n_graph} proxies and {n_graph} graph features.", "",
                 markdown_table(["Kendall tau", "Spearman rho", "MAE (accuracy points)", "GreenFactory published tau"],
                                [[f"{result.kendall:.3f}", f"{result.spearman:.3f}", f"{result.mae:.2f}",
                                  "n/a" if published is None else published]]),
                 "", f"Energy: statistics of the {len(archs)} archs {scored.energy}, fitting and predicting {fit_energy}"
                 + (f"; estimated with CodeCarbon's process model, {meter.model.describe()} (docs/energy.md)."
                    if ESTIMATED in (scored.energy.source, fit_energy.source) else "."),
                 "", "Feature importances: " + ", ".join(f"{k} {v:.3f}" for k, v in
                                                       sorted(result.importances.items(), key=lambda kv: -kv[1]))]
        atomic_write_text(out / "ensemble.md", "\n".join(lines) + "\n")
        tracker.metrics({"spearman": result.spearman, "mae": result.mae}
                        | scored.energy.metrics("statistics") | fit_energy.metrics("fit"))
        tracker.artifact(out / "ensemble.json")
        tracker.artifact(out / "ensemble.md")
        tracker.conclude(Headline("kendall", result.kendall, "eval tau",
                                  "\n".join(lines[2:]) + f"\n\nCommand: `{command_line('ensemble')}`"))
    print("\n".join(lines))
    return summary
