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
        tags: `baseline` for the field's proxies, `unreported` for those a search report leaves out
            (see statistics.core.STATISTIC_TAGS); empty for discovered proxies.
    """

    name: str
    statistics: tuple[str, ...]
    evaluate: Callable[[StatisticsTable], torch.Tensor]
    pool_relative: bool = False
    doc: str = ""
    options: StatisticsOptions | None = None
    tags: frozenset[str] = frozenset()


PROXIES: Registry[Proxy] = Registry("proxy")


def register_proxy(proxy: Proxy) -> Proxy:
    """Add `proxy` to the registry and return it."""
    PROXIES.add(proxy.name, proxy)
    return proxy


def baseline_proxy(name: str, statistics: tuple[str, ...], pool_relative: bool = False):
    """Register the decorated function (table -> scores, float [N]) as the field's proxy `name` reading `statistics`.

    Its docstring's first line is the proxy's doc. A baseline that is one statistic needs no function:
    tag the statistic `baseline` where its pass registers it.
    """

    def decorate(evaluate: Callable[[StatisticsTable], torch.Tensor]):
        doc = (evaluate.__doc__ or "").strip().splitlines()[0] if evaluate.__doc__ else ""
        register_proxy(Proxy(name, tuple(statistics), evaluate, pool_relative, doc, tags=frozenset({"baseline"})))
        return evaluate

    return decorate
