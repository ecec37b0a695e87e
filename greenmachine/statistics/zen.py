"""Zen-score: log expected feature change under a small input perturbation plus BN scaling terms."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call

from greenmachine.statistics.core import PassContext, probe_pass
from greenmachine.statistics.features import pre_pool_features
from greenmachine.statistics.init import reinitialised_state

MIXUP_GAMMA = 0.01


@probe_pass("zen", produces={
    "zen": ("scalar", 1, "Zen-score: log mean_b sum |f(x) - f(x + 0.01 eps)| + sum_BN log sqrt(mean running_var), N(0,1) init", "baseline"),
}, uses=("zen_batch", "zen_repeats"), tags=("lean",))
def zen_pass(ctx: PassContext) -> dict[str, object]:
    """Return the Zen-score averaged over `zen_repeats` Gaussian re-initialisations and draws."""
    gen = ctx.generator(salt=23)
    shape = (ctx.options.zen_batch, *ctx.probe.inputs.shape[1:])
    scores = []
    with ctx.borrowed() as net, torch.no_grad():
        bns = [name for name, m in net.named_modules() if isinstance(m, nn.BatchNorm2d) and m.track_running_stats]
        for _ in range(ctx.options.zen_repeats):
            state = reinitialised_state(net, "gaussian", gen)
            forward = lambda x, state=state: functional_call(net, state, (x,))  # noqa: E731
            x = torch.randn(shape, generator=gen, device=ctx.device)
            eps = torch.randn(shape, generator=gen, device=ctx.device)
            delta = float((pre_pool_features(net, forward, x) - pre_pool_features(net, forward, x + MIXUP_GAMMA * eps))
                          .abs().flatten(1).sum(1).mean())
            bn = sum(math.log(math.sqrt(float(state[f"{name}.running_var"].mean()))) for name in bns)
            scores.append(math.log(delta) + bn if delta > 0 else -math.inf)
    return {"zen": sum(scores) / len(scores)}
