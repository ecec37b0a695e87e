"""`greenmachine cache`: compute and cache statistics for a set of archs, resumably, in parallel."""

from __future__ import annotations

from omegaconf import DictConfig

from greenmachine.archs import select_archs
from greenmachine.commands import command, compute_settings, plain, probe_settings, statistics_settings, target_of
from greenmachine.compute import make_cache
from greenmachine.data import make_probe
from greenmachine.energy import ESTIMATED, EnergyMeter
from greenmachine.errors import check_choice
from greenmachine.statistics.engine import passes_for
from greenmachine.statistics.runner import BACKENDS, fill_cache


@command("cache", "compute and cache the statistics of a set of archs (resumable, parallel, CUDA or Ray)")
def cache(cfg: DictConfig) -> dict[str, object]:
    """Fill the statistics cache for `archs` and print what was done."""
    target = target_of(cfg)
    space, dataset = target.space, target.dataset
    check_choice("backend", cfg.backend, BACKENDS)
    names, options = statistics_settings(cfg)
    compute = compute_settings(cfg)
    archs = select_archs(space, plain(cfg)["archs"], compute.data_dir)
    probe = make_probe(dataset, probe_settings(cfg), compute.data_dir)
    store = make_cache(space, dataset, probe, options, compute.cache_dir)
    job, workers = compute.job(space, dataset, probe, options)
    meter = EnergyMeter(job.device)
    mark = meter.mark()
    report = fill_cache(store, [int(a) for a in archs], passes_for(names), job, workers=workers,
                        chunk_size=int(cfg.chunk_size), backend=cfg.backend, ray_address=cfg.ray_address,
                        progress=compute.progress)
    energy = meter.since(mark)
    print(f"{report.computed} archs computed, {report.cached} already cached, in {report.seconds:.1f} s, {energy} "
          f"-> {store.root / 'statistics' / space / dataset}")
    if energy.source == ESTIMATED:
        print(f"energy estimated with CodeCarbon's process model: {meter.model.describe()}"
              + ("; Ray workers not counted" if cfg.backend == "ray" else ""))
    for arch, problem in sorted(report.problems.items())[:10]:
        print(f"  arch {arch}: {problem}")
    if len(report.problems) > 10:
        print(f"  ... and {len(report.problems) - 10} more archs with non-finite or failed statistics")
    return {"computed": report.computed, "cached": report.cached, "problems": len(report.problems),
            **energy.metrics("fill")}
