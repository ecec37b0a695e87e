"""The field's known proxies: each statistic tagged `baseline` (by its field name) and combinations of statistics."""

from __future__ import annotations

import torch

from greenmachine.proxies.base import Proxy, baseline_proxy, register_proxy
from greenmachine.statistics.core import STATISTICS, StatisticSpec
from greenmachine.statistics.table import StatisticsTable


def _column(name: str):
    def evaluate(table: StatisticsTable) -> torch.Tensor:
        return table.scalar[name]

    return evaluate


def _register_column(name: str, spec: StatisticSpec) -> None:
    """Register a statistic tagged `baseline` as the proxy of the same name (its scores: the statistic, larger = better)."""
    if "baseline" in spec.tags:
        register_proxy(Proxy(name, (name,), _column(name), doc=spec.doc, tags=spec.tags & {"baseline", "unreported"}))


STATISTICS.watch(_register_column)  # every baseline statistic, registered now or later (a plug-in's pass)


def _log_rank(values: torch.Tensor) -> torch.Tensor:
    """Return log(rank / N) with ascending average ranks (scipy's rankdata convention), float64 [N]."""
    v = torch.nan_to_num(values.double(), nan=-torch.inf)  # AZ-NAS maps NaN to -inf: rank last
    order = torch.argsort(v, stable=True)
    _, inverse, counts = torch.unique_consecutive(v[order], return_inverse=True, return_counts=True)
    first = torch.cumsum(counts, 0) - counts
    average = (2 * first + 1 + counts).double() / 2  # mean of the 1-based positions first+1 .. first+count
    ranks = torch.empty_like(v)
    ranks[order] = average[inverse]
    return torch.log(ranks / len(v))


AZ_COMPONENTS = ("flops", "az_expressivity", "az_progressivity", "az_trainability")


@baseline_proxy("az_nas", AZ_COMPONENTS, pool_relative=True)
def az_nas(table: StatisticsTable) -> torch.Tensor:
    """AZ-NAS: sum of log(rank/N) of FLOPs, expressivity, progressivity and trainability over the scored archs"""
    return sum(_log_rank(table.scalar[name]) for name in AZ_COMPONENTS)
