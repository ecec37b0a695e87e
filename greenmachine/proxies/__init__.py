"""Proxies by name (the field's baselines and the proxies greenmachine discovered) and `score`."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module

import torch
from torch import nn

from greenmachine.data.probe import Probe, user_probe
from greenmachine.errors import GreenmachineError
from greenmachine.proxies import baselines  # noqa: F401  (registers the baselines)
from greenmachine.proxies.base import PROXIES, Proxy, register_proxy
from greenmachine.proxies.expression import expression_proxy
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.core import labelled
from greenmachine.statistics.engine import network_tables


# Proxies greenmachine discovered, each a module of this package written by `greenmachine export`.
# SHIPPED: they score any CNN (finite, untied and not multiplied by a graph count on plain, residual and
# inverted-residual nets: tests/test_families.py). NATS_CELLS: earlier searches' formulas that multiply by
# NATS-cell graph counts (0 or reversed on other networks); registered so the NATS results, tables and
# ensembles that read them reproduce, not shipped for other networks.
SHIPPED: tuple[str, ...] = ("gm_sss", "gm_sss_cifar10", "gm_sss_cifar100", "gm_transfer")
NATS_CELLS: tuple[str, ...] = ("gm_tss_cells", "gm_general_cells")
DISCOVERED: tuple[str, ...] = (*SHIPPED, *NATS_CELLS)
for _name in DISCOVERED:
    _module = import_module(f"greenmachine.proxies.{_name}")
    register_proxy(expression_proxy(_module.NAME, _module.EXPRESSION, _module.STATISTICS,
                                    (_module.__doc__ or "").strip().splitlines()[0], _module.OPTIONS))


def proxy_statistics(names: Iterable[str]) -> list[str]:
    """Return the statistics the proxies `names` read, in first-use order; unknown proxies raise."""
    return list(dict.fromkeys(s for name in names for s in PROXIES[name].statistics))


def score(net: nn.Module, probe: Probe | torch.Tensor | tuple[torch.Tensor, torch.Tensor], proxies: Iterable[str],
          options: StatisticsOptions | None = None) -> dict[str, float]:
    """Return {proxy name: score} of one network, computing only the statistics those proxies read.

    `probe` is a Probe (`greenmachine.data.probe_batch`) or the caller's own batch: images
    [B, C, H, W] normalised as the network expects, or (images, labels [B]); labels are needed only
    by proxies that read them (snip, grad_norm, ...), and a bad batch raises naming the valid forms.
    Pool-relative proxies (az_nas) rank archs against each other and raise here: score a set of
    archs with `greenmachine evaluate` instead, or ask for their components. Without `options`, each
    proxy's statistics are measured with the settings it was found with (Proxy.options), else the defaults.
    Each pass runs once for all the proxies that read it (once per distinct settings it reads).
    """
    if isinstance(proxies, str):
        raise GreenmachineError(f"proxies={proxies!r} is a string; give a list of proxy names, e.g. proxies=[{proxies!r}]")
    proxies = list(proxies)
    if not proxies:
        raise GreenmachineError(f"proxies=[] names no proxy; valid: {', '.join(PROXIES.names())}")
    probe = user_probe(probe, labelled=sorted(labelled(proxy_statistics(proxies))))
    relative = [p for p in proxies if PROXIES[p].pool_relative]
    if relative:
        raise GreenmachineError(
            f"{', '.join(relative)} ranks archs against each other, so it cannot score a single network; "
            "use `greenmachine evaluate` on a set of archs, or score its components: "
            + ", ".join(proxy_statistics(relative)))
    requests = [(PROXIES[name].statistics, options or PROXIES[name].options or StatisticsOptions()) for name in proxies]
    tables = network_tables(net, probe, requests)
    return {name: float(PROXIES[name].evaluate(table)[0]) for name, table in zip(proxies, tables, strict=True)}


__all__ = ["DISCOVERED", "NATS_CELLS", "PROXIES", "SHIPPED", "Proxy", "proxy_statistics", "register_proxy", "score"]
