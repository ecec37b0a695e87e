"""A task: one (space, dataset) target with its samples, cached statistics and accuracies, ready to search.

`prepare_task` draws the fixed evaluation holdout of the space first, then the search sample and
its disjoint holdout from the remaining archs (so reports on the evaluation holdout are on archs the
search never saw), fills the statistics cache for all of them and loads one table. An *unseen*
target (`searched=False`) gets no search sample or holdout: only its evaluation holdout is loaded,
to report on (a search never reads it, not even to pick from its hall of fame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from greenmachine.benchmark import Benchmark, Sample, SampleProtocol, draw_sample, fixed_holdout, load_benchmark
from greenmachine.benchmark.sampling import candidate_archs, resolved
from greenmachine.compute import Compute, cached_table
from greenmachine.config import ProbeConfig
from greenmachine.data import make_probe
from greenmachine.energy import ESTIMATED
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.engine import passes_for
from greenmachine.statistics.table import StatisticsTable

SETS = ("search", "holdout", "evaluation")  # a task's sets of archs, in the order reports show them


@dataclass(frozen=True)
class TaskData:
    """Everything a search and its report need about one target.

    Attributes:
        space, dataset, metric, epochs: the target.
        sample: the search sample and its disjoint holdout, with the protocol that drew them.
        table: statistics of every kept arch (rows in `rows` order).
        accuracy: ground truth of each table row, float64 [N].
        rows: set name (`search`, `holdout`, `evaluation`) -> row positions in `table`.
        dropped: archs left out because a statistic failed (NaN), with the reason.
        probe: the probe's settings.
        compute_seconds, compute_joules: recorded cost of the statistics of the kept archs (whenever
            they were computed); joules measured where a counter exists, else estimated.
        compute_energy_source: `measured` or `estimated` (measured only if every arch's joules were).
        pass_costs: pass name -> mean recorded (seconds, joules) per kept arch.
        searched: False for an unseen target (no search sample or holdout; reported on, never searched).
    """

    space: str
    dataset: str
    metric: str
    epochs: int
    sample: Sample
    table: StatisticsTable
    accuracy: np.ndarray
    rows: dict[str, np.ndarray]
    dropped: dict[int, str] = field(default_factory=dict)
    probe: dict[str, object] = field(default_factory=dict)
    compute_seconds: float = 0.0
    compute_joules: float = float("nan")
    compute_energy_source: str = ESTIMATED
    pass_costs: dict[str, tuple[float, float]] = field(default_factory=dict)
    searched: bool = True

    def cost_per_arch(self, passes: list[str]) -> tuple[float, float]:
        """Return the mean recorded (seconds, joules) per arch of `passes` together (NaN for a pass not recorded)."""
        costs = [self.pass_costs.get(p, (float("nan"), float("nan"))) for p in passes]
        return float(sum(c[0] for c in costs)), float(sum(c[1] for c in costs))

    @property
    def name(self) -> str:
        """Return `space/dataset`."""
        return f"{self.space}/{self.dataset}"

    def subset(self, set_name: str) -> tuple[StatisticsTable, np.ndarray]:
        """Return the table and accuracies of one set."""
        rows = self.rows[set_name]
        return self.table.select(rows), self.accuracy[rows]


def draw_task_sets(bench: Benchmark, dataset: str, metric: str, epochs: int, protocol: SampleProtocol,
                   evaluation_size: int | None, searched: bool = True) -> tuple[Sample, np.ndarray]:
    """Return a target's search sample with its holdout, and its fixed evaluation holdout (int64, sorted).

    The evaluation holdout is drawn first (none when `evaluation_size` is 0, the space's own size
    when it is None) and excluded from the sample, which `protocol` draws with the target's
    accuracy (its `exclude` is set here). An unseen target (`searched=False`) gets an empty sample.
    """
    evaluation = fixed_holdout(bench, n=evaluation_size, dataset=dataset, metric=metric, epochs=epochs) \
        if evaluation_size != 0 else np.array([], dtype=np.int64)
    protocol = replace(protocol, dataset=dataset, metric=metric, epochs=epochs, exclude=tuple(int(a) for a in evaluation))
    if searched:
        return draw_sample(bench, protocol), evaluation
    none = np.array([], dtype=np.int64)
    return Sample(none, none, resolved(bench, protocol), candidates=len(candidate_archs(bench, protocol)),
                  space=bench.space), evaluation


def prepare_task(space: str, dataset: str, metric: str | None, epochs: int | None, protocol: SampleProtocol,
                 evaluation_size: int | None, probe_config: ProbeConfig, statistics: list[str], options: StatisticsOptions,
                 compute: Compute = Compute(), searched: bool = True) -> TaskData:
    """Return a task ready to search: samples drawn, statistics cached and loaded, failed archs dropped.

    Args:
        space, dataset, metric, epochs: the target (None metric/epochs = the benchmark's defaults).
        protocol: how the search sample and its holdout are drawn (its `exclude` is set here).
        evaluation_size: archs in the fixed random evaluation holdout (0 = none, None = the space's
            `evaluation_size`; all archs with a record when it exceeds them).
        probe_config: the probe.
        statistics: statistic names to load (their passes are cached first).
        options: pass settings.
        compute: where statistics are computed and data and caches are found.
        searched: False for an unseen target: only its evaluation holdout is drawn and loaded.
    """
    bench: Benchmark = load_benchmark(space, data_dir=compute.data_dir)
    _, metric, epochs = bench.target(dataset, metric, epochs)
    sample, evaluation = draw_task_sets(bench, dataset, metric, epochs, protocol, evaluation_size, searched)
    probe = make_probe(dataset, probe_config, compute.data_dir)
    archs = np.concatenate([sample.search, sample.holdout, evaluation]).astype(np.int64)
    table, keep, cache = cached_table(space, dataset, archs, statistics, probe, options, compute)
    cost = cache.costs(passes_for(statistics), archs[keep])
    pass_costs = {}
    for p in passes_for(statistics):
        one = cache.costs([p], archs[keep])
        pass_costs[p] = ((float(one.seconds.mean()), float(one.joules.mean())) if len(one.seconds)
                         else (float("nan"), float("nan")))
    accuracy = bench.accuracies(dataset, metric, epochs)[archs]
    bounds = np.cumsum([0, len(sample.search), len(sample.holdout), len(evaluation)])
    rows = {name: np.searchsorted(keep, keep[(keep >= lo) & (keep < hi)])
            for name, lo, hi in zip(SETS, bounds[:-1], bounds[1:])}
    dropped = {int(a): "NaN statistics" for a in np.delete(archs, keep)}
    return TaskData(space, dataset, metric, epochs, sample, table, accuracy[keep], rows, dropped, probe.settings(),
                    float(cost.seconds.sum()), float(cost.joules.sum()), cost.source, pass_costs, searched)


def searched_tasks(tasks: Sequence[TaskData], fitness: str) -> list[TaskData]:
    """Return the tasks a search with `fitness` evolves on: the first with `kendall`, else every one not unseen."""
    searched = [t for t in tasks if t.searched]
    return searched[:1] if fitness == "kendall" else searched
