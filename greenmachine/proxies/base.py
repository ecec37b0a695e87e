"""Proxies by name: a proxy maps a table of statistics to one score per arch (larger = predicted better)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from greenmachine.registry import Registry
from greenmachine.statistics.core import StatisticsOptions
from greenmachine.statistics.table import StatisticsTable


@dataclass(frozen=True)
class Proxy:
    """A named proxy.

    Attributes:
        name: how users ask for it (`synflow`, `meco`, or a discovered proxy's name).
        statistics: the statistics it reads.
        evaluate: table -> scores, float [N].
        pool_relative: True when an arch's score depends on the other archs scored with it (AZ-NAS's
            rank aggregation); such a proxy cannot score a single network.
        doc: one line saying what it is.
        options: the pass settings its statistics were measured with when it was found (a discovered
            proxy's search settings); None: the defaults, or whatever the caller passes.
    """

    name: str
    statistics: tuple[str, ...]
    evaluate: Callable[[StatisticsTable], torch.Tensor]
    pool_relative: bool = False
    doc: str = ""
    options: StatisticsOptions | None = None


PROXIES: Registry[Proxy] = Registry("proxy")


def register_proxy(proxy: Proxy) -> Proxy:
    """Add `proxy` to the registry and return it."""
    PROXIES.add(proxy.name, proxy)
    return proxy
