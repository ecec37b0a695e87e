"""greenmachine: synthesise zero-cost proxies for neural architecture search."""

from greenmachine.archs import select_archs
from greenmachine.compute import Compute
from greenmachine.data.probe import Probe
from greenmachine.proxies import PROXIES, score
from greenmachine.scoring import ScoreTable, score_archs
from greenmachine.spaces import build_network, get_space
from greenmachine.statistics import Statistics, StatisticsOptions, compute_statistics

__version__ = "0.1.0"

__all__ = ["PROXIES", "Compute", "Probe", "ScoreTable", "Search", "Statistics", "StatisticsOptions", "__version__",
           "build_network", "compute_statistics", "get_space", "score", "score_archs", "select_archs"]


def __getattr__(name: str) -> object:
    """Return `Search` on first use (it imports the search's tracking and reporting; scoring does not need them)."""
    if name == "Search":
        from greenmachine.search import Search

        return Search
    raise AttributeError(f"module 'greenmachine' has no attribute {name!r}")
