"""`greenmachine cache`: compute and cache statistics for a set of archs, resumably, in parallel."""

from __future__ import annotations

import os

from omegaconf import DictConfig

from greenmachine.commands import command, plain, probe_settings, statistics_settings
from greenmachine.config import resolve_device
from greenmachine.errors import check_choice
from greenmachine.spaces import get_space
from greenmachine.statistics.engine import passes_for
from greenmachine.statistics.runner import BACKENDS, CacheJob, default_workers, fill_cache
from greenmachine.workspace import make_cache, make_probe, select_archs


@command("cache", "compute and cache the statistics of a set of archs (resumable, parallel, CUDA or Ray)")
def cache(cfg: DictConfig) -> dict[str, object]:
    """Fill the statistics cache for `archs` and print what was done."""
    space = get_space(cfg.space.name).name
    dataset = cfg.dataset.name
    device = resolve_device(cfg.device)
    check_choice("backend", cfg.backend, BACKENDS)
    names, options = statistics_settings(cfg)
    probe = make_probe(dataset, probe_settings(cfg), cfg.data_dir)
    store = make_cache(space, dataset, probe, options, cfg.cache_dir)
    archs = select_archs(space, plain(cfg)["archs"], cfg.data_dir)
    workers = default_workers(device) if cfg.workers == "auto" else int(cfg.workers)
    threads = max(1, (os.cpu_count() or 1) // workers) if device == "cpu" else 1
    job = CacheJob(space, dataset, probe, options, device, threads)
    report = fill_cache(store, [int(a) for a in archs], passes_for(names), job, workers=workers,
                        chunk_size=int(cfg.chunk_size), backend=cfg.backend, ray_address=cfg.ray_address,
                        progress=bool(cfg.progress))
    print(f"{report.computed} archs computed, {report.cached} already cached, in {report.seconds:.1f} s "
          f"-> {store.root / 'statistics' / space / dataset}")
    for arch, problem in sorted(report.problems.items())[:10]:
        print(f"  arch {arch}: {problem}")
    if len(report.problems) > 10:
        print(f"  ... and {len(report.problems) - 10} more archs with non-finite or failed statistics")
    return {"computed": report.computed, "cached": report.cached, "problems": len(report.problems)}
