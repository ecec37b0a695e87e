"""Proxies written as GP expressions: scored over a statistics table, or on any network in one call."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from greenmachine.data.probe import user_probe
from greenmachine.gp.evaluate import NAMESPACE, bind
from greenmachine.gp.primitives import float64_where_saturated
from greenmachine.proxies.base import Proxy
from greenmachine.statistics import STATISTICS, StatisticsOptions
from greenmachine.statistics.core import labelled
from greenmachine.statistics.engine import network_table
from greenmachine.statistics.table import StatisticsTable


def _run(expression: str, table: StatisticsTable, dtype: torch.dtype) -> torch.Tensor:
    inputs = bind(table, dtype)
    scores = eval(compile(expression, "<proxy expression>", "eval"), {**NAMESPACE, **inputs.values, "mask": inputs.mask})
    return torch.as_tensor(scores).to(table.mask.device).expand(1, inputs.size).reshape(inputs.size)


def evaluate_expression(expression: str, table: StatisticsTable) -> torch.Tensor:
    """Return the scores of every arch of `table` under a `gp.render.to_python` expression, float64 [N].

    The expression sees the GP primitives, each statistic laid out as the GP's programs see it, and
    `mask`; so it gives exactly the GP's own (float32) evaluation of the tree it came from, except
    where that saturates at +-3.4e38: there the score is the same expression evaluated in float64
    (`gp.primitives.float64_where_saturated`).
    """
    return float64_where_saturated(lambda dtype: _run(expression, table, dtype))


def expression_proxy(name: str, expression: str, statistics: Sequence[str], doc: str = "",
                     options: StatisticsOptions | None = None) -> Proxy:
    """Return a Proxy scoring tables with `expression` (a `to_python` expression over `statistics`).

    `options` are the pass settings the expression was found with (see Proxy.options).
    """
    for stat in statistics:
        STATISTICS[stat]  # raises, listing the valid statistics
    return Proxy(name, tuple(statistics), lambda table: evaluate_expression(expression, table), doc=doc,
                 options=options)


def score_network(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None, expression: str,
                  statistics: Sequence[str], seed: int = 0, options: StatisticsOptions | None = None) -> float:
    """Return the score of any PyTorch network under `expression`, computing only `statistics`.

    Args:
        net: the untrained network (left unchanged).
        inputs: the probe images, float [B, C, H, W], normalised as the network expects.
        targets: their labels, int [B]; required only when a statistic depends on labels.
        expression: a `gp.render.to_python` expression.
        statistics: the statistics it reads.
        seed: the probe seed the proxy's random draws derive from (the search's probe seed).
        options: pass settings (the search's).
    """
    probe = user_probe(inputs if targets is None else (inputs, targets), seed, sorted(labelled(statistics)))
    return float(evaluate_expression(expression, network_table(net, probe, statistics, options))[0])
