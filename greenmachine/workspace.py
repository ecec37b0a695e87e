"""What the commands share: resolve the probe, the cache and the arch selection from plain settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from greenmachine.benchmark import fixed_holdout, load_benchmark
from greenmachine.benchmark.sampling import space_permutation
from greenmachine.config import ProbeConfig
from greenmachine.data import probe_batch
from greenmachine.data.probe import Probe
from greenmachine.energy import ESTIMATED, Energy, total_energy
from greenmachine.errors import GreenmachineError
from greenmachine.paths import cache_dir, data_dir
from greenmachine.spaces import get_space
from greenmachine.statistics import STATISTICS, StatisticsOptions, default_statistics
from greenmachine.statistics.cache import Cost, StatisticsCache
from greenmachine.statistics.engine import lean_statistics, passes_for
from greenmachine.statistics.runner import CacheJob, default_workers, fill_cache, usable_cores
from greenmachine.statistics.table import StatisticsTable, clean_columns

# Real probe images that ship with the benchmark data, per dataset (others default to noise).
AUTO_PROBE_FILES = {"cifar10": "images/cifar10_test_500_jpeg.npz", "cifar10-valid": "images/cifar10_test_500_jpeg.npz"}


def probe_source(dataset: str, source: str, data: str | Path | None) -> str:
    """Return the concrete probe source for `source`, resolving `auto` per dataset (real images or noise)."""
    if source != "auto":
        return source
    if dataset in AUTO_PROBE_FILES:
        return str(data_dir(data) / AUTO_PROBE_FILES[dataset])
    return "noise"


def make_probe(dataset: str, config: ProbeConfig, data: str | Path | None = None) -> Probe:
    """Return the probe batch described by `config` for `dataset`."""
    return probe_batch(dataset, probe_source(dataset, config.source, data), batch_size=config.batch_size,
                       seed=config.seed, split=config.split, resolution=config.resolution)


def statistic_names(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """Return the statistic names of a `statistics.names` setting: `default`, `lean`, `all` or a list."""
    presets = {"default": default_statistics, "lean": lean_statistics, "all": STATISTICS.names}
    if isinstance(names, str):
        if names not in presets:
            raise GreenmachineError(f"statistics.names={names!r}; valid: {', '.join(presets)}, or a list of statistic names")
        return presets[names]()
    for name in names:
        STATISTICS[name]  # raises, listing the valid names
    return list(names)


def make_cache(space: str, dataset: str, probe: Probe, options: StatisticsOptions,
               cache: str | Path | None = None) -> StatisticsCache:
    """Return the statistics cache of (space, dataset, probe, options) under the cache folder."""
    return StatisticsCache(cache_dir(cache), space, dataset, probe, options)


def select_archs(space: str, spec: object, data: str | Path | None = None) -> np.ndarray:
    """Return arch indices for an `archs` setting: `all`, `holdout`, N, `start:stop`, or a list of indices.

    `holdout` is the space's fixed evaluation holdout (3,000 archs for NATS, a third of a smaller
    space: `SearchSpace.evaluation_size`); N the first N archs of the same fixed random order (so
    archs=3000 is the NATS holdout). Raises GreenmachineError naming the setting and the valid forms.
    """
    size = get_space(space).size
    forms = ("valid: all, holdout, a count N (first N of a fixed random order), 'start:stop', "
             "or a list of indices")
    if spec == "all":
        return np.arange(size)
    if spec == "holdout":
        return fixed_holdout(load_benchmark(space, data_dir=data))
    if isinstance(spec, int) and not isinstance(spec, bool):
        if not 1 <= spec <= size:
            raise GreenmachineError(f"archs={spec} is out of range for {space} (1..{size}); {forms}")
        return space_permutation(space)[:spec]
    if isinstance(spec, str) and spec.count(":") == 1:
        bounds = []
        for part in spec.split(":"):
            if part.strip() and not part.strip().lstrip("-").isdigit():
                raise GreenmachineError(f"archs={spec!r} is not understood: {part!r} is not an index; {forms}")
            bounds.append(int(part) if part.strip() else None)
        chosen = np.arange(size)[slice(*bounds)]
        if chosen.size == 0:
            raise GreenmachineError(f"archs={spec!r} selects no arch of {space} (indices 0..{size - 1}); {forms}")
        return chosen
    if isinstance(spec, (list, tuple)):
        space_obj = get_space(space)
        indices = [space_obj.resolve(a)[0] for a in spec]
        seen: dict[int, object] = {}
        for index, given in zip(indices, spec):
            if index in seen:
                forms_given = f" (as {seen[index]!r} and {given!r})" if str(seen[index]) != str(given) else ""
                raise GreenmachineError(f"archs lists arch {index} twice{forms_given}; each arch may appear once "
                                        "(it would count twice in every tau)")
            seen[index] = given
        return np.array(indices, dtype=np.int64)
    raise GreenmachineError(f"archs={spec!r} is not understood; {forms}")


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
