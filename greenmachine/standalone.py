"""Score one network under a proxy expression with torch, numpy, the primitives and the statistics passes only.

Every exported proxy module carries this module inlined, with the greenmachine modules it imports
and the passes of the statistics the proxy reads (`greenmachine.export`), so it scores networks
where greenmachine is not installed. Only torch, numpy and what `greenmachine.export.inlined_modules`
finds may be imported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from greenmachine.data.probe import user_probe
from greenmachine.gp.primitives import LayerMask, float64_where_saturated, namespace
from greenmachine.statistics.core import STATISTICS, StatisticsOptions, labelled
from greenmachine.statistics.engine import compute_statistics


def score_expression(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None, expression: str,
                     statistics: Sequence[str], seed: int = 0,
                     options: StatisticsOptions | Mapping[str, int] | None = None) -> float:
    """Return the score of any PyTorch network under a `gp.render.to_python` expression, computing only `statistics`.

    Equal to the GP's evaluation of the expression's tree on the network's statistics (a table of one
    network, laid out as `gp.evaluate.bind` lays out a table), in float64 where that float32 value
    saturates (`gp.primitives.float64_where_saturated`, as `proxies.expression.evaluate_expression`).

    Args:
        net: the untrained network (left unchanged).
        inputs: probe images, float [B, C, H, W], normalised as the network expects.
        targets: their labels, int [B]; needed only when a statistic read depends on labels.
        expression: the proxy's expression.
        statistics: the statistics it reads.
        seed: the probe seed its random draws derive from (the search's probe seed).
        options: pass settings (the search's), as StatisticsOptions or their plain values.
    """
    if isinstance(options, Mapping):
        options = StatisticsOptions(**options)
    probe = user_probe(inputs if targets is None else (inputs, targets), seed, labelled(statistics))
    stats = compute_statistics(net, probe, statistics, options)
    depth = len(stats.layers)
    values = {}  # float32, as a statistics table stores them
    for name in statistics:
        if STATISTICS[name].kind == "layer":
            values[name] = torch.from_numpy(np.asarray(stats.layer[name], dtype=np.float32)).reshape(depth, 1)
        else:
            values[name] = torch.tensor([[stats.scalar[name]]], dtype=torch.float32)
    present = torch.ones(1, depth, dtype=torch.bool)
    code = compile(expression, "<proxy expression>", "eval")

    def run(dtype: torch.dtype) -> torch.Tensor:
        inputs = {name: v.to(dtype) for name, v in values.items()}
        return torch.as_tensor(eval(code, {**namespace(), **inputs, "mask": LayerMask.of(present, dtype)})).reshape(-1)

    return float(float64_where_saturated(run)[0])
