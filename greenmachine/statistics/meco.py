"""MeCo: minimum eigenvalues of feature-map channel correlations on a single probe image."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from greenmachine.statistics.core import PassContext, probe_pass
from greenmachine.statistics.linalg import rows_correlation, spectrum


def _min_eig(feature: torch.Tensor) -> float:
    """Return the smallest eigenvalue of the channel correlation of one sample's feature map [C, ...].

    With more channels than positions (C > P) the correlation of the P-centred rows has rank at
    most P - 1 < C, so its smallest eigenvalue is exactly 0: returned without an eigendecomposition
    (which would return rounding noise of about 1e-16 at C^3 cost). A feature map with a NaN or an
    infinity (an overflowing network) gives NaN: the correlation would turn it into zeros, and a
    term of 0 would pass for a valid one.
    """
    rows = feature.reshape(feature.shape[0], -1).double()
    if not bool(torch.isfinite(rows).all()):
        return math.nan
    if rows.shape[0] > rows.shape[1]:
        return 0.0
    return float(spectrum(rows_correlation(rows))[0])


@probe_pass("meco", produces={
    "meco_layer": ("layer", 1, "smallest eigenvalue of the layer output's channel correlation on one probe image"),
    "meco": ("scalar", 1, "MeCo: sum over every executed module of the smallest eigenvalue of its output's channel correlation, one image, train mode",
             "baseline"),
    "meco_opt": ("scalar", 1, "MeCo_opt: sum over modules of (C/8) x smallest eigenvalue of 8 random channels", "baseline"),
}, uses=("meco_channels",), tags=("lean",))
def meco_pass(ctx: PassContext) -> dict[str, object]:
    """Return MeCo, MeCo_opt and the per-layer MeCo terms, from one forward on the first probe image."""
    with ctx.borrowed() as net:
        return _run_meco(ctx, net)


def _run_meco(ctx: PassContext, net: nn.Module) -> dict[str, object]:
    gen = ctx.generator(salt=11)
    n_sampled = ctx.options.meco_channels
    layers = set(ctx.layer_modules(net))
    layer_terms: dict[nn.Module, float] = {}
    totals = {"meco": 0.0, "meco_opt": 0.0}
    seen: dict[int, tuple[torch.Tensor, float]] = {}  # a container returns its last child's very tensor

    def hook(module: nn.Module, _inputs: tuple, output) -> None:
        out = output[0] if isinstance(output, (tuple, list)) else output
        if not isinstance(out, torch.Tensor) or out.dim() < 2:
            return
        feature = out[0].detach()
        channels = feature.shape[0]
        if id(out) not in seen:  # the tensor is kept in `seen`, so its id cannot be reused during the forward
            seen[id(out)] = (out, _min_eig(feature))
        term = seen[id(out)][1]
        totals["meco"] += term  # a non-finite term makes the sum non-finite: the arch is recorded as failed
        if module in layers:
            layer_terms.setdefault(module, term)
        picked = torch.randperm(channels, generator=gen, device=gen.device)[:n_sampled]
        totals["meco_opt"] += _min_eig(feature[picked]) * channels / len(picked)

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    try:
        with torch.no_grad():
            net(ctx.probe.inputs[:1])
    finally:
        for h in handles:
            h.remove()
    return {
        "meco_layer": np.asarray([layer_terms.get(m, 0.0) for m in ctx.layer_modules(net)], dtype=np.float64),
        **totals,
    }
