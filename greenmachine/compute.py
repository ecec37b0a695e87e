"""Statistics of benchmark archs: where they are computed (`Compute`), the cache that keeps them, the tables read back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from greenmachine.data.probe import Probe
from greenmachine.paths import cache_dir
from greenmachine.spaces import get_space
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.cache import StatisticsCache
from greenmachine.statistics.engine import passes_for
from greenmachine.statistics.runner import CacheJob, default_workers, fill_cache, usable_cores
from greenmachine.statistics.table import StatisticsTable, clean_columns


def make_cache(space: str, dataset: str, probe: Probe, options: StatisticsOptions,
               cache: str | Path | None = None) -> StatisticsCache:
    """Return the statistics cache of (space, dataset, probe, options) under the cache folder."""
    return StatisticsCache(cache_dir(cache), space, dataset, probe, options)


@dataclass(frozen=True)
class Compute:
    """Where statistics are computed and where data and caches are found.

    Attributes:
        device: torch device string (`cpu`, `cuda`, ...).
        workers: parallel worker processes (None: one per CPU core, one for a GPU).
        progress: show progress bars.
        data_dir, cache_dir: overrides of the data and cache folders (None: the defaults).
        threads: torch CPU threads per worker (None: the CPU cores shared out over the workers, 1 on a GPU).
    """

    device: str = "cpu"
    workers: int | None = None
    progress: bool = True
    data_dir: str | None = None
    cache_dir: str | None = None
    threads: int | None = None

    def plan(self) -> tuple[int, int]:
        """Return (worker processes, torch threads per worker) that statistics are computed with.

        Unless set, on a CPU the cores are shared out: one thread per worker, or all of them for a
        single worker; one worker with one thread on a GPU.
        """
        workers = self.workers or default_workers(self.device)
        threads = self.threads or (max(1, usable_cores() // workers) if self.device == "cpu" else 1)
        return workers, threads

    def job(self, space: str, dataset: str, probe: Probe, options: StatisticsOptions) -> tuple[CacheJob, int]:
        """Return the cache job for these archs' statistics and how many workers run it (see `plan`)."""
        workers, threads = self.plan()
        return CacheJob(space, dataset, probe, options, self.device, threads, get_space(space).config), workers


def fill_statistics(space: str, dataset: str, archs: np.ndarray, passes: list[str], probe: Probe,
                    options: StatisticsOptions, compute: Compute) -> StatisticsCache:
    """Compute the `passes` the cache lacks for `archs` (see runner.fill_cache) and return the cache they are in."""
    cache = make_cache(space, dataset, probe, options, compute.cache_dir)
    job, workers = compute.job(space, dataset, probe, options)
    fill_cache(cache, [int(a) for a in archs], passes, job, workers=workers, progress=compute.progress)
    return cache


def load_table(cache: StatisticsCache, archs: np.ndarray, statistics: list[str]) -> tuple[StatisticsTable, np.ndarray]:
    """Return the cached statistics of `archs` and the kept positions: the table's rows are `archs[kept]`.

    Archs with a NaN statistic (a failed pass) are dropped; infinities are made finite keeping the
    order (see clean_columns).
    """
    table, _ = cache.load(statistics, archs)
    table, bad_rows = clean_columns(table)
    kept = np.setdiff1d(np.arange(len(archs)), bad_rows)
    return table.select(kept), kept


def cached_table(space: str, dataset: str, archs: np.ndarray, statistics: list[str], probe: Probe,
                 options: StatisticsOptions, compute: Compute) -> tuple[StatisticsTable, np.ndarray, StatisticsCache]:
    """Return the statistics of `archs` (computing what the cache lacks), the kept positions and the cache (see load_table)."""
    cache = fill_statistics(space, dataset, archs, passes_for(statistics), probe, options, compute)
    return *load_table(cache, archs, statistics), cache
