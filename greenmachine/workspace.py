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
from greenmachine.proxies.base import Proxy
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
    """

    device: str = "cpu"
    workers: int | None = None
    progress: bool = True
    data_dir: str | None = None
    cache_dir: str | None = None

    def job(self, space: str, dataset: str, probe: Probe, options: StatisticsOptions) -> tuple[CacheJob, int]:
        """Return the cache job for these archs' statistics and how many workers run it.

        On a CPU the cores are shared out: one thread per worker, or all of them for a single worker.
        """
        workers = self.workers or default_workers(self.device)
        threads = max(1, usable_cores() // workers) if self.device == "cpu" else 1
        return CacheJob(space, dataset, probe, options, self.device, threads, get_space(space).config), workers


def cached_table(space: str, dataset: str, archs: np.ndarray, statistics: list[str], probe: Probe,
                 options: StatisticsOptions, compute: Compute) -> tuple[StatisticsTable, np.ndarray, StatisticsCache]:
    """Return the statistics of `archs` (computing what the cache lacks), the kept positions and the cache.

    Archs with a NaN statistic (a failed pass) are dropped; infinities are made finite keeping the
    order (see clean_columns). The table's rows are `archs[kept]`.
    """
    cache = make_cache(space, dataset, probe, options, compute.cache_dir)
    job, workers = compute.job(space, dataset, probe, options)
    fill_cache(cache, [int(a) for a in archs], passes_for(statistics), job, workers=workers, progress=compute.progress)
    table, _ = cache.load(statistics, archs)
    table, bad_rows = clean_columns(table)
    kept = np.setdiff1d(np.arange(len(archs)), bad_rows)
    return table.select(kept), kept, cache


@dataclass(frozen=True)
class ProxyScores:
    """Proxies scored on the same archs.

    Attributes:
        archs: the archs every proxy scored (archs with a failed statistic dropped), int [N].
        scores: proxy name -> scores, float64 [N].
        cost: proxy name -> recorded seconds and joules per arch of the passes it reads (Cost, each [N]).
        options: proxy name -> the pass settings its statistics were measured with.
        seconds: recorded wall time of all the passes behind the scores (each pass and setting once).
        energy: the energy of those passes, measured or estimated.
    """

    archs: np.ndarray
    scores: dict[str, np.ndarray]
    cost: dict[str, Cost]
    options: dict[str, StatisticsOptions]
    seconds: float
    energy: Energy = Energy(float("nan"), ESTIMATED)


def score_archs(proxies: list[Proxy], space: str, dataset: str, archs: np.ndarray, probe: Probe,
                options: StatisticsOptions, compute: Compute) -> ProxyScores:
    """Return every proxy's scores on `archs`, computing the statistics the cache lacks.

    A proxy that carries its own pass settings (a discovered proxy: those it was found with) is
    measured with them, the others with `options`; so a discovered proxy's numbers do not depend on
    the settings of the run that scores it. Pool-relative proxies rank the returned archs only.
    """
    groups: dict[StatisticsOptions, list[Proxy]] = {}
    for proxy in proxies:
        groups.setdefault(proxy.options or options, []).append(proxy)
    loaded = []
    common = np.ones(len(archs), dtype=bool)
    for group_options, members in groups.items():
        names = list(dict.fromkeys(s for p in members for s in p.statistics))
        table, kept, cache = cached_table(space, dataset, archs, names, probe, group_options, compute)
        loaded.append((group_options, members, names, table, kept, cache))
        common &= np.isin(np.arange(len(archs)), kept)
    archs = archs[common]
    scores, cost, measured, seconds, energy = {}, {}, {}, 0.0, []
    for group_options, members, names, table, kept, cache in loaded:
        table = table.select(np.flatnonzero(common[kept]))
        spent = cache.costs(passes_for(names), archs)
        seconds += float(spent.seconds.sum())
        energy.append(spent.energy())
        for proxy in members:
            scores[proxy.name] = proxy.evaluate(table).double().cpu().numpy()
            cost[proxy.name] = cache.costs(passes_for(proxy.statistics), archs)
            measured[proxy.name] = group_options
    return ProxyScores(archs, scores, cost, measured, seconds, total_energy(energy))
