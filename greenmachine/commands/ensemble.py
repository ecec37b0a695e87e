"""`greenmachine ensemble`: a GreenFactory-style random forest over proxy scores that predicts accuracy."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from greenmachine.benchmark import fixed_holdout, load_benchmark
from greenmachine.benchmark.sampling import SampleProtocol, draw_sample
from greenmachine.commands import (command, compute_settings, note_own_settings, plain, probe_settings, proxies_of,
                                   statistics_settings, target_of)
from greenmachine.ensemble import fit_ensemble
from greenmachine.spaces import get_space
from greenmachine.statistics.cache import atomic_write_text
from greenmachine.tracking import tracked_run
from greenmachine.scoring import score_archs
from greenmachine.workspace import make_probe


@command("ensemble", "GreenFactory-style random forest over proxy scores: predicts accuracy of unseen archs")
def ensemble(cfg: DictConfig) -> dict[str, object]:
    """Train on `train` random archs outside the evaluation holdout, report on the holdout; write JSON, Markdown, a plot.

    The training archs are the random search sample a `greenmachine search sampling=random` with the
    same seed draws, so the two share their cached statistics.
    """
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
    scored = score_archs(proxies, space, dataset, np.concatenate([train, test]), options, probe, compute)
    archs, scores = scored.archs, scored.scores
    rows = np.arange(len(archs))
    is_train = np.isin(archs, train)
    result = fit_ensemble(scores, accuracy[archs], rows[is_train], rows[~is_train], seed=int(cfg.seed), trees=int(cfg.trees))
    out = Path(HydraConfig.get().runtime.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = {k: v for k, v in asdict(result).items() if k != "predictions"}
    summary.update(space=space, dataset=dataset, published_greenfactory_kendall=published)
    atomic_write_text(out / "ensemble.json", json.dumps(summary, indent=2))
    lines = [f"# Random-forest ensemble, {space} {dataset} ({metric})", "",
             f"Trained on {result.n_train} archs, evaluated on the {result.n_test}-arch evaluation holdout.", "",
             "| Kendall tau | Spearman rho | MAE (accuracy points) | GreenFactory published tau |", "|---|---|---|---|",
             f"| {result.kendall:.3f} | {result.spearman:.3f} | {result.mae:.2f} | {'n/a' if published is None else published} |",
             "", "Feature importances: " + ", ".join(f"{k} {v:.3f}" for k, v in
                                                   sorted(result.importances.items(), key=lambda kv: -kv[1]))]
    atomic_write_text(out / "ensemble.md", "\n".join(lines) + "\n")
    with tracked_run(bool(cfg.tracking.enabled), cfg.tracking.uri, cfg.tracking.experiment, f"ensemble {space}/{dataset}",
                     plain(cfg), {"space": space, "dataset": dataset, "command": "ensemble"}) as tracker:
        tracker.metrics({"kendall": result.kendall, "spearman": result.spearman, "mae": result.mae})
        tracker.artifact(out / "ensemble.json")
        tracker.artifact(out / "ensemble.md")
    print("\n".join(lines))
    return summary
