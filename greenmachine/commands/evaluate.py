"""`greenmachine evaluate`: a league table of baselines and exported proxies on the same archs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from greenmachine.benchmark import load_benchmark
from greenmachine.commands import (command, compute_settings, note_own_settings, plain, probe_settings,
                                   statistics_settings, target_of)
from greenmachine.league import league, write_league
from greenmachine.proxies.loading import resolve_proxy
from greenmachine.tracking import tracked_run
from greenmachine.workspace import make_probe, score_archs, select_archs


@command("evaluate", "league table of baselines and exported proxies on the same archs (JSON, Markdown, plots)")
def evaluate(cfg: DictConfig) -> dict[str, object]:
    """Score every proxy on the same archs and write the league table into the Hydra run folder."""
    target = target_of(cfg)
    space, dataset, metric, epochs = target.space, target.dataset, target.metric, target.epochs
    bench = load_benchmark(space, data_dir=cfg.data_dir)
    accuracy_all = bench.accuracies(dataset, metric, epochs)
    proxies = [resolve_proxy(str(p)) for p in cfg.proxies]
    _, options = statistics_settings(cfg)
    note_own_settings(proxies, options)
    compute = compute_settings(cfg)
    probe = make_probe(dataset, probe_settings(cfg), compute.data_dir)
    archs = select_archs(space, plain(cfg)["archs"], cfg.data_dir)
    archs = archs[np.isfinite(accuracy_all[archs])]
    scored = score_archs(proxies, space, dataset, archs, probe, options, compute)
    bad = len(archs) - len(scored.archs)
    archs = scored.archs
    rows = league(scored.scores, accuracy_all[archs], space, dataset, scored.cost)
    out = Path(HydraConfig.get().runtime.output_dir)
    title = f"{space} {dataset} ({metric}, {epochs} epochs), {len(archs)} archs ({cfg.archs})"
    files = write_league(rows, scored.scores, accuracy_all[archs], out, title)
    spent = scored.seconds
    with tracked_run(bool(cfg.tracking.enabled), cfg.tracking.uri, cfg.tracking.experiment, f"evaluate {space}/{dataset}",
                     plain(cfg), {"space": space, "dataset": dataset, "command": "evaluate"}) as tracker:
        tracker.metrics({f"kendall.{r.proxy}": r.kendall for r in rows} | {"statistics_seconds": spent})
        for path in files.values():
            tracker.artifact(path)
    print(files["markdown"].read_text())
    print(f"compute spent on statistics: {spent:.0f} s over {len(archs)} archs ({bad} dropped for failed statistics)"
          f" -> {out}")
    return {"out": str(out), "rows": len(rows)}
