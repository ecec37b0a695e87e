"""The statistics engine: probe passes over any PyTorch network, baseline proxies and the cache."""

from greenmachine.statistics import (  # noqa: F401  (each module registers its passes)
    az_nas,
    grasp,
    main_pass,
    meco,
    structure,
    swap,
    synflow,
    zen,
)
from greenmachine.statistics.core import PASSES, STATISTICS, StatisticSpec, StatisticsOptions
from greenmachine.statistics.engine import Statistics, compute_statistics, default_statistics, lean_statistics
from greenmachine.statistics.table import StatisticsTable

__all__ = [
    "PASSES",
    "STATISTICS",
    "Statistics",
    "StatisticSpec",
    "StatisticsOptions",
    "StatisticsTable",
    "compute_statistics",
    "default_statistics",
    "lean_statistics",
]
