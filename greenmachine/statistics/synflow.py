"""SynFlow: the saliency of every weight for the output of the all-positive, BN-free network on ones."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from greenmachine.statistics.core import PassContext, probe_pass

LOG_FLOOR = 1e-30


def _remove_batchnorm(net: nn.Module) -> None:
    for name, child in list(net.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(net, name, nn.Identity())
        else:
            _remove_batchnorm(child)


@probe_pass("synflow", produces={
    "synflow_layer": ("layer", 1, "log sum |w * dR/dw| of the layer, R = sum of logits of |theta| on ones, BN off, float64"),
    "synflow": ("scalar", 1, "SynFlow, stored as its log like NASLib: log sum over layers of |w * dR/dw|", "baseline"),
}, tags=("lean",))
def synflow_pass(ctx: PassContext) -> dict[str, object]:
    """Return per-layer and total log SynFlow."""
    net = ctx.fresh_copy().double()
    with torch.no_grad():
        for tensor in net.state_dict().values():
            tensor.abs_()
    _remove_batchnorm(net)
    layers = ctx.layer_modules(net)
    x = torch.ones((1, *ctx.probe.inputs.shape[1:]), dtype=torch.float64, device=ctx.device)
    net(x).sum().backward()
    sums = [float((layer.weight.detach() * layer.weight.grad).abs().sum()) if layer.weight.grad is not None else 0.0
            for layer in layers]
    total = sum(sums)
    return {
        "synflow_layer": np.log(np.maximum(np.asarray(sums, dtype=np.float64), LOG_FLOOR)),
        "synflow": math.log(max(total, LOG_FLOOR)),
    }
