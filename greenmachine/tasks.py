"""A task: one (space, dataset) target with its samples, cached statistics and accuracies, ready to search.

`prepare_task` draws the fixed evaluation holdout of the space first, then the search sample and
its disjoint holdout from the remaining archs (so reports on the evaluation holdout are on archs the
search never saw), fills the statistics cache for all of them and loads one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from greenmachine.benchmark import Benchmark, SampleProtocol, Sample, draw_sample, fixed_holdout, load_benchmark
from greenmachine.config import ProbeConfig
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.engine import passes_for
from greenmachine.statistics.runner import CacheJob, default_workers, fill_cache
from greenmachine.statistics.table import StatisticsTable
from greenmachine.workspace import make_cache, make_probe

SETS = ("search", "holdout", "evaluation")


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

    @property
    def name(self) -> str:
        """Return `space/dataset`."""
        return f"{self.space}/{self.dataset}"

    def subset(self, set_name: str) -> tuple[StatisticsTable, np.ndarray]:
        """Return the table and accuracies of one set."""
        rows = self.rows[set_name]
        return self.table.select(rows), self.accuracy[rows]


def clean_columns(table: StatisticsTable) -> tuple[StatisticsTable, np.ndarray]:
    """Return the table with infinities made finite and the positions of rows holding a NaN.

    -inf (e.g. AZ-NAS trainability of an identity network) becomes slightly below the column's
    finite minimum and +inf slightly above its maximum, so the order of archs is kept.
    """
    bad = torch.zeros(len(table), dtype=torch.bool)

    def finite(column: torch.Tensor) -> torch.Tensor:
        values = column[torch.isfinite(column)]
        if values.numel() == 0:
            return torch.zeros_like(column)
        low, high = values.min(), values.max()
        margin = 0.01 * (high - low) + 1e-6
        return torch.nan_to_num(column, nan=float("nan"), posinf=float(high + margin), neginf=float(low - margin))

    layer = {}
    for name, column in table.layer.items():
        column = torch.where(table.mask, column, torch.zeros_like(column))
        bad |= torch.isnan(column).any(dim=1)
        layer[name] = torch.where(table.mask, finite(column), column)
    scalar = {}
    for name, column in table.scalar.items():
        bad |= torch.isnan(column)
        scalar[name] = finite(column)
    cleaned = StatisticsTable(table.arch_indices, layer, table.mask, scalar)
    return cleaned, torch.nonzero(bad).flatten().numpy()


def prepare_task(space: str, dataset: str, metric: str | None, epochs: int | None, protocol: SampleProtocol,
                 evaluation_size: int, probe_config: ProbeConfig, statistics: list[str], options: StatisticsOptions,
                 device: str = "cpu", workers: int | None = None, data_dir: str | None = None,
                 cache_dir: str | None = None, progress: bool = True) -> TaskData:
    """Return a task ready to search: samples drawn, statistics cached and loaded, failed archs dropped.

    Args:
        space, dataset, metric, epochs: the target (None metric/epochs = the benchmark's defaults).
        protocol: how the search sample and its holdout are drawn (its `exclude` is set here).
        evaluation_size: archs in the fixed random evaluation holdout (0 = none; the whole space
            minus the search sample when it exceeds what is left).
        probe_config: the probe.
        statistics: statistic names to load (their passes are cached first).
        options: pass settings.
        device, workers: where the statistics are computed.
        data_dir, cache_dir: overrides of the data and cache folders.
        progress: show progress bars.
    """
    bench: Benchmark = load_benchmark(space, data_dir=data_dir)
    metric = metric or "test"
    epochs = epochs or bench.default_epochs
    evaluation = fixed_holdout(bench, n=evaluation_size, dataset=dataset, metric=metric, epochs=epochs) \
        if evaluation_size else np.array([], dtype=np.int64)
    protocol = replace(protocol, dataset=dataset, metric=metric, epochs=epochs, exclude=tuple(int(a) for a in evaluation))
    sample = draw_sample(bench, protocol)
    probe = make_probe(dataset, probe_config, data_dir)
    cache = make_cache(space, dataset, probe, options, cache_dir)
    archs = np.concatenate([sample.search, sample.holdout, evaluation]).astype(np.int64)
    workers = workers or default_workers(device)
    job = CacheJob(space, dataset, probe, options, device, threads=1 if workers > 1 else max(1, torch.get_num_threads()))
    fill_cache(cache, [int(a) for a in archs], passes_for(statistics), job, workers=workers, progress=progress)
    table, _ = cache.load(statistics, archs)
    table, bad_rows = clean_columns(table)
    accuracy = bench.accuracies(dataset, metric, epochs)[archs]
    keep = np.setdiff1d(np.arange(len(archs)), bad_rows)
    bounds = np.cumsum([0, len(sample.search), len(sample.holdout), len(evaluation)])
    rows = {name: np.searchsorted(keep, keep[(keep >= lo) & (keep < hi)])
            for name, lo, hi in zip(SETS, bounds[:-1], bounds[1:])}
    dropped = {int(archs[r]): "NaN statistics" for r in bad_rows}
    return TaskData(space, dataset, metric, epochs, sample, table.select(keep), accuracy[keep], rows, dropped,
                    probe.settings())
