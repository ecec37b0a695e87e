"""`greenmachine evaluate`: a league table of baselines and exported proxies on the same archs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from greenmachine.benchmark import load_benchmark
from greenmachine.commands import command, plain
from greenmachine.config import ProbeConfig, build, resolve_device
from greenmachine.league import league, write_league
from greenmachine.proxies.loading import resolve_proxy
from greenmachine.spaces import get_space
from greenmachine.statistics import STATISTICS, StatisticsOptions
from greenmachine.statistics.engine import passes_for
from greenmachine.statistics.runner import CacheJob, default_workers, fill_cache
from greenmachine.tasks import clean_columns
from greenmachine.tracking import tracked_run
from greenmachine.workspace import make_cache, make_probe, select_archs


@command("evaluate", "league table of baselines and exported proxies on the same archs (JSON, Markdown, plots)")
def evaluate(cfg: DictConfig) -> dict[str, object]:
    """Score every proxy on the same archs and write the league table into the Hydra run folder."""
    space = get_space(cfg.space.name).name
    dataset, metric = cfg.dataset.name, cfg.dataset.metric
    bench = load_benchmark(space, data_dir=cfg.data_dir)
    accuracy_all = bench.accuracies(dataset, metric, int(cfg.space.epochs))
    proxies = [resolve_proxy(str(p)) for p in cfg.proxies]
    names = list(dict.fromkeys(s for p in proxies for s in p.statistics))
    stats_cfg = plain(cfg, "statistics")
    stats_cfg.pop("names")
    options = build(StatisticsOptions, stats_cfg, "statistics")
    probe = make_probe(dataset, build(ProbeConfig, plain(cfg, "probe"), "probe"), cfg.data_dir)
    store = make_cache(space, dataset, probe, options, cfg.cache_dir)
    archs = select_archs(space, plain(cfg)["archs"], cfg.data_dir)
    archs = archs[np.isfinite(accuracy_all[archs])]
    device = resolve_device(cfg.device)
    workers = default_workers(device) if cfg.workers == "auto" else int(cfg.workers)
    job = CacheJob(space, dataset, probe, options, device, threads=1 if workers > 1 else 2)
    passes = passes_for(names)
    fill_cache(store, [int(a) for a in archs], passes, job, workers=workers, progress=bool(cfg.progress))
    table, _ = store.load(names, archs)
    table, bad = clean_columns(table)
    keep = np.setdiff1d(np.arange(len(archs)), bad)
    table, archs = table.select(keep), archs[keep]
    cost = {p.name: store.costs(passes_for(p.statistics), archs) for p in proxies}
    rows, scores = league(proxies, table, accuracy_all[archs], space, dataset, cost)
    out = Path(HydraConfig.get().runtime.output_dir)
    title = f"{space} {dataset} ({metric}, {cfg.space.epochs} epochs), {len(archs)} archs ({cfg.archs})"
    files = write_league(rows, scores, accuracy_all[archs], out, title)
    spent = float(sum(store.costs(passes, archs)[0]))
    with tracked_run(bool(cfg.tracking.enabled), cfg.tracking.uri, cfg.tracking.experiment, f"evaluate {space}/{dataset}",
                     plain(cfg), {"space": space, "dataset": dataset, "command": "evaluate"}) as tracker:
        tracker.metrics({f"kendall.{r.proxy}": r.kendall for r in rows} | {"statistics_seconds": spent})
        for path in files.values():
            tracker.artifact(path)
    print(files["markdown"].read_text())
    print(f"compute spent on statistics: {spent:.0f} s over {len(archs)} archs ({len(bad)} dropped for failed statistics)"
          f" -> {out}")
    return {"out": str(out), "rows": len(rows)}
