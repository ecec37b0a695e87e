"""The field's known proxies, each by its field name, read from the statistics engine's output."""

from __future__ import annotations

import torch

from greenmachine.proxies.base import Proxy, register_proxy
from greenmachine.statistics.core import STATISTICS
from greenmachine.statistics.table import StatisticsTable

# Baselines that are one per-network statistic, oriented so that larger is better.
SCALAR_BASELINES = ("synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "zen", "zico", "meco",
                    "meco_opt", "swap", "l2_norm", "params", "flops", "plain")


def _column(name: str):
    def evaluate(table: StatisticsTable) -> torch.Tensor:
        return table.scalar[name]

    return evaluate


for _name in SCALAR_BASELINES:
    register_proxy(Proxy(_name, (_name,), _column(_name), doc=STATISTICS[_name].doc))


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


def _az_nas(table: StatisticsTable) -> torch.Tensor:
    return sum(_log_rank(table.scalar[name]) for name in AZ_COMPONENTS)


register_proxy(Proxy("az_nas", AZ_COMPONENTS, _az_nas, pool_relative=True,
                     doc="AZ-NAS: sum of log(rank/N) of FLOPs, expressivity, progressivity and trainability over the scored archs"))
