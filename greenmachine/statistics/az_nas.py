"""AZ-NAS components: expressivity, progressivity and trainability of the block feature maps.

Kaiming-normal (fan_in) re-initialisation, train mode, a Gaussian batch; the pool-relative AZ-NAS
score (a sum of log ranks including FLOPs) is formed over a set of archs by the proxy layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from torch.func import functional_call

from greenmachine.statistics.core import PassContext, probe_pass
from greenmachine.statistics.features import feature_blocks, run_capturing
from greenmachine.statistics.init import reinitialised_state
from greenmachine.statistics.linalg import product_top_singular_value, spectrum


def _expressivity(feature: torch.Tensor) -> float:
    x = feature.detach().permute(0, 2, 3, 1).reshape(-1, feature.shape[1]).double()
    x = x - x.mean(0, keepdim=True)
    # X^T X and X X^T share their nonzero eigenvalues, and zeros add nothing to the entropy: take the smaller.
    eig = spectrum((x.T @ x if x.shape[1] <= x.shape[0] else x @ x.T) / x.shape[0]).clamp_min(0)
    total = float(eig.sum())
    if total <= 0:
        return 0.0
    p = eig / total
    return float(-(p * torch.log(p + 1e-8)).sum())


def _pair_trainability(f_in: torch.Tensor, f_out: torch.Tensor, gen: torch.Generator) -> float:
    g_out = torch.randint(0, 2, f_out.shape, generator=gen, device=f_out.device).to(f_out.dtype) * 2 - 1
    (g_in,) = torch.autograd.grad(f_out, f_in, g_out, retain_graph=True, allow_unused=True)
    if g_in is None:
        return -math.inf
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    if g_in.shape[-1] != g_out.shape[-1]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[-1] // g_out.shape[-1])
    a = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1]).double()
    b = g_out.permute(0, 2, 3, 1).reshape(-1, g_out.shape[1]).double()
    sigma = product_top_singular_value(a, b) / a.shape[0]
    return -sigma - 1.0 / (sigma + 1e-6) + 2.0


@probe_pass("az_nas", produces={
    "az_expressivity": ("scalar", 1, "AZ-NAS expressivity: sum over block features of the covariance spectrum's entropy"),
    "az_progressivity": ("scalar", 1, "AZ-NAS progressivity: min over consecutive blocks of the entropy increase"),
    "az_trainability": ("scalar", 1, "AZ-NAS trainability: mean over blocks of -s - 1/s + 2, s = top singular value of a Rademacher VJP map"),
}, uses=("az_batch",), tags=("lean",))
def az_nas_pass(ctx: PassContext) -> dict[str, object]:
    """Return the three data-free AZ-NAS components on a Gaussian batch."""
    gen = ctx.generator(salt=37)
    with ctx.borrowed() as net:
        state = reinitialised_state(net, "kaiming_fan_in", gen)
        x = torch.randn((ctx.options.az_batch, *ctx.probe.inputs.shape[1:]), generator=gen, device=ctx.device)
        _, feats = run_capturing(lambda t: functional_call(net, state, (t,)), x, feature_blocks(net))
        return _components(feats, gen)


def _components(feats: list[torch.Tensor], gen: torch.Generator) -> dict[str, object]:
    entropies = [_expressivity(f) for f in feats]
    progress = [b - a for a, b in zip(entropies, entropies[1:])]
    pairs = [_pair_trainability(feats[i - 1], feats[i], gen) for i in range(len(feats) - 1, 0, -1)]
    trainability = sum(pairs) / len(pairs) if pairs else 0.0
    return {
        "az_expressivity": float(sum(entropies)),
        "az_progressivity": float(min(progress)) if progress else 0.0,
        "az_trainability": -math.inf if math.isnan(trainability) else trainability,
    }
