"""`greenmachine evaluate`: a league table of baselines and exported proxies on the same archs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from greenmachine.archs import select_archs
from greenmachine.benchmark import load_benchmark
from greenmachine.commands import (command, command_line, compute_settings, note_own_settings, plain, probe_settings,
                                   proxies_of, statistics_settings, target_of, track)
from greenmachine.data import make_probe
from greenmachine.errors import GreenmachineError
from greenmachine.league import league, write_league
from greenmachine.scoring import score_archs
from greenmachine.summaries import evaluate_headline
from greenmachine.tracking import run_name


def _check_rankable(count: int, spec: object, dropped: str = "") -> None:
    """Raise GreenmachineError unless `count` archs are enough for a rank correlation (at least 2)."""
    if count < 2:
        shown = f"[{','.join(map(str, spec))}]" if isinstance(spec, list) else spec
        raise GreenmachineError(f"evaluate needs at least 2 archs to rank, got {count} (archs={shown}{dropped}); "
                                "valid: archs=all, holdout, a count N >= 2, 'start:stop' or a list of at least 2 archs")


@command("evaluate", "league table of baselines and exported proxies on the same archs (JSON, Markdown, plots)")
def evaluate(cfg: DictConfig) -> dict[str, object]:
    """Score every proxy on the same archs and write the league table into the Hydra run folder."""
    target = target_of(cfg)
    space, dataset, metric, epochs = target.space, target.dataset, target.metric, target.epochs
    proxies = proxies_of(plain(cfg)["proxies"])
    bench = load_benchmark(space, data_dir=cfg.data_dir)
    accuracy_all = bench.accuracies(dataset, metric, epochs)
    _, options = statistics_settings(cfg)
    note_own_settings(proxies, options)
    compute = compute_settings(cfg)
    spec = plain(cfg)["archs"]
    archs = select_archs(space, spec, cfg.data_dir)
    selected = len(archs)
    archs = archs[np.isfinite(accuracy_all[archs])]
    _check_rankable(len(archs), spec, f", {selected - len(archs)} without an accuracy" if selected > len(archs) else "")
    probe = make_probe(dataset, probe_settings(cfg), compute.data_dir)
    out = Path(HydraConfig.get().runtime.output_dir)
    name = run_name("evaluate", f"{space}/{dataset}", f"archs {spec if isinstance(spec, (str, int)) else len(spec)}",
                    f"{len(proxies)} proxies")
    with track(cfg, name, {"space": space, "dataset": dataset}) as tracker:  # opened before the statistics
        scored = score_archs(proxies, space, dataset, archs, options, probe, compute)
        bad = len(archs) - len(scored.archs)
        archs = scored.archs
        _check_rankable(len(archs), spec, f", {bad} with failed statistics" if bad else "")
        rows = league(scored.scores, accuracy_all[archs], space, dataset, scored.cost)
        title = f"{space} {dataset} ({metric}, {epochs} epochs), {len(archs)} archs ({cfg.archs})"
        files = write_league(rows, scored.scores, accuracy_all[archs], out, title, archs)
        spent = scored.seconds
        tracker.metrics({f"kendall.{r.proxy}": r.kendall for r in rows} | {"statistics_seconds": spent}
                        | scored.energy.metrics("statistics")
                        | {f"joules_per_arch_{r.energy_source}.{r.proxy}": r.joules_per_arch for r in rows
                           if r.joules_per_arch is not None})
        for path in files.values():
            tracker.artifact(path)
        tracker.conclude(evaluate_headline(rows, title, command_line("evaluate")))
    print(files["markdown"].read_text())
    print(f"compute spent on statistics: {spent:.0f} s, {scored.energy}, over {len(archs)} archs "
          f"({bad} dropped for failed statistics) -> {out}; per-arch scores: {files['scores']}")
    return {"out": str(out), "rows": len(rows)}
