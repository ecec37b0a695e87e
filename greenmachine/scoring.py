"""Proxies scored on benchmark archs: `score_archs` and the ScoreTable it returns.

The one way from proxies to scores over a benchmark's archs, used by `greenmachine evaluate`,
`greenmachine ensemble` and the scripts in `experiments/`. Statistics come from the cache, which
is filled first with what it lacks; each pass is computed once per distinct settings it reads,
however many proxies read it (see statistics.engine.pass_runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from greenmachine.archs import select_archs
from greenmachine.compute import Compute, fill_statistics, load_table, make_cache
from greenmachine.config import ProbeConfig
from greenmachine.correlations import Correlation, correlation
from greenmachine.data import make_probe
from greenmachine.data.probe import Probe
from greenmachine.energy import ESTIMATED, Energy, total_energy
from greenmachine.errors import GreenmachineError
from greenmachine.presets import options_preset
from greenmachine.proxies.base import PROXIES, Proxy
from greenmachine.proxies.loading import resolve_proxy
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.cache import Cost, StatisticsCache
from greenmachine.statistics.engine import pass_runs, passes_for
from greenmachine.statistics.table import StatisticsTable


@dataclass(frozen=True)
class ScoreTable:
    """Proxies scored on the same archs of one space and dataset.

    Attributes:
        space, dataset: where the archs come from.
        probe: the probe batch the statistics were measured on.
        archs: the archs every proxy scored (archs with a failed statistic dropped), int64 [N].
        scores: proxy name -> scores, float64 [N] (larger = predicted better).
        cost: proxy name -> recorded seconds and joules per arch of the passes it reads (Cost, each [N];
            a pass several proxies read counts for each of them).
        options: proxy name -> the pass settings its statistics were measured with.
        seconds: recorded wall time of all the passes behind the scores, each pass and setting once.
        energy: the energy of those passes, measured or estimated.
    """

    space: str
    dataset: str
    probe: Probe
    archs: np.ndarray
    scores: dict[str, np.ndarray]
    cost: dict[str, Cost]
    options: dict[str, StatisticsOptions]
    seconds: float
    energy: Energy = Energy(float("nan"), ESTIMATED)

    def correlations(self, accuracy: np.ndarray) -> dict[str, Correlation]:
        """Return each proxy's Kendall tau, Spearman rho and top-10 % precision against `accuracy` (failures ranked last).

        `accuracy` is the ground truth of `archs`, in that order, float [N], e.g.
        `load_benchmark(space).accuracies(dataset)[table.archs]`; another length raises GreenmachineError.
        """
        accuracy = np.asarray(accuracy, dtype=np.float64)
        if accuracy.shape != self.archs.shape:
            raise GreenmachineError(f"accuracy has shape {accuracy.shape} but {len(self.archs)} archs were scored; give "
                                    "the accuracy of the scored archs in their order, e.g. accuracies[table.archs]")
        return {name: correlation(scores, accuracy) for name, scores in self.scores.items()}


def resolve_proxies(specs: Sequence[str | Proxy]) -> list[Proxy]:
    """Return the proxies of a `proxies` setting: registered names, paths of exported .py files or Proxy objects, checked.

    Raises GreenmachineError for a string instead of a list, an empty list, a proxy listed twice (or two
    files with one name: they would share a row), and for unknown names or broken files.
    """
    valid = f"valid: a list of {', '.join(PROXIES.names())}, or paths of exported .py files"
    if isinstance(specs, str):
        raise GreenmachineError(f"proxies={specs!r} is a string; give a list, e.g. proxies=[{specs}]")
    specs = [s if isinstance(s, Proxy) else str(s) for s in specs]
    if not specs:
        raise GreenmachineError(f"proxies=[] names no proxy; {valid}")
    twice = next((s for i, s in enumerate(specs) if isinstance(s, str) and s in specs[:i]), None)
    if twice is not None:
        raise GreenmachineError(f"proxies lists {twice!r} twice; each proxy may appear once")
    proxies = [s if isinstance(s, Proxy) else resolve_proxy(s) for s in specs]
    names = [p.name for p in proxies]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise GreenmachineError(f"proxies {specs[names.index(name)]!r} and {specs[i]!r} are both named {name!r}; "
                                    "rename one (greenmachine export name=...)")
    return proxies


def score_archs(proxies: Sequence[str | Proxy], space: str, dataset: str, archs: object = "holdout",
                options: StatisticsOptions | str | None = None, probe: Probe | ProbeConfig | None = None,
                compute: Compute | None = None) -> ScoreTable:
    """Return every proxy's scores on the archs of a space and dataset, computing the statistics the cache lacks.

    Args:
        proxies: registered proxy names, paths of exported .py files, or Proxy objects.
        space, dataset: the benchmark target (e.g. `nats_tss`, `cifar10`).
        archs: arch indices (int array), or an `archs` setting: `all`, `holdout`, a count N, `start:stop`, a list.
        options: pass settings of the proxies that carry none of their own (None: the defaults), or a
            preset name (`default`, `lean`: see options_preset). A discovered proxy is measured with
            the settings it was found with, so its numbers do not depend on the run that scores it.
        probe: the probe batch, or how to make it (None: ProbeConfig's defaults, as `greenmachine evaluate`).
        compute: device, workers and data/cache folders (None: this machine's defaults).

    Pool-relative proxies (az_nas) rank the returned archs among themselves only.
    """
    proxies = resolve_proxies(proxies)
    compute = compute or Compute()
    options = options_preset(options) if isinstance(options, str) else options or StatisticsOptions()
    archs = archs.astype(np.int64) if isinstance(archs, np.ndarray) else select_archs(space, archs, compute.data_dir)
    probe = probe if isinstance(probe, Probe) else make_probe(dataset, probe or ProbeConfig(), compute.data_dir)
    own = {proxy.name: proxy.options or options for proxy in proxies}
    caches: dict[StatisticsOptions, StatisticsCache] = {}
    runs = []
    for run_options, passes in pass_runs([(proxy.statistics, own[proxy.name]) for proxy in proxies]):
        caches[run_options] = fill_statistics(space, dataset, archs, passes, probe, run_options, compute)
        runs.append((caches[run_options], passes))
    groups: dict[StatisticsOptions, list[str]] = {}
    for proxy in proxies:
        groups.setdefault(own[proxy.name], []).extend(proxy.statistics)
    tables: dict[StatisticsOptions, tuple[StatisticsTable, np.ndarray]] = {}
    common = np.ones(len(archs), dtype=bool)
    for group_options, names in groups.items():
        # every pass this group reads is filled: under these options, or others that agree on what it reads
        if group_options not in caches:
            caches[group_options] = make_cache(space, dataset, probe, group_options, compute.cache_dir)
        tables[group_options] = load_table(caches[group_options], archs, list(dict.fromkeys(names)))
        common &= np.isin(np.arange(len(archs)), tables[group_options][1])
    kept_archs = archs[common]
    scores, cost = {}, {}
    for proxy in proxies:
        table, kept = tables[own[proxy.name]]
        scores[proxy.name] = proxy.evaluate(table.select(np.flatnonzero(common[kept]))).double().cpu().numpy()
        cost[proxy.name] = caches[own[proxy.name]].costs(passes_for(proxy.statistics), kept_archs)
    spent = [cache.costs(passes, kept_archs) for cache, passes in runs]
    return ScoreTable(space, dataset, probe, kept_archs, scores, cost, own, sum(float(c.seconds.sum()) for c in spent),
                      total_energy(c.energy() for c in spent))
