"""SWAP: the number of distinct sample-wise activation patterns of the ReLU neurons."""

from __future__ import annotations

import torch
from torch import nn

from torch.func import functional_call

from greenmachine.statistics.core import PassContext, probe_pass
from greenmachine.statistics.init import reinitialised_state


def _distinct_patterns(net: nn.Module, state: dict[str, torch.Tensor], x: torch.Tensor) -> int:
    """Return the number of distinct N-bit on/off vectors of all ReLU neurons of `net` run with `state` on x [N, ...]."""
    if x.shape[0] > 62:
        raise ValueError(f"SWAP packs each neuron's pattern into 63 bits; batch {x.shape[0]} is too large")
    weights = 2 ** torch.arange(x.shape[0], device=x.device, dtype=torch.int64)
    keys: list[torch.Tensor] = []

    def hook(_module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if inputs[0].dim() == 4:
            bits = (output.detach() > 0).flatten(1).to(torch.int64)  # [N, neurons]
            keys.append((bits * weights[:, None]).sum(0))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            functional_call(net, state, (x,))
    finally:
        for h in handles:
            h.remove()
    return int(torch.unique(torch.cat(keys)).numel()) if keys else 0


@probe_pass("swap", produces={
    "swap": ("scalar", 1, "SWAP: distinct sample-wise ReLU activation patterns, N(0,1) init, mean over repeats", "baseline"),
}, uses=("swap_batch", "swap_repeats"), tags=("expensive",))
def swap_pass(ctx: PassContext) -> dict[str, object]:
    """Return SWAP on the first `swap_batch` probe images, averaged over `swap_repeats` re-initialisations."""
    gen = ctx.generator(salt=53)
    x = ctx.probe.inputs[: ctx.options.swap_batch]
    with ctx.borrowed() as net:
        counts = [_distinct_patterns(net, reinitialised_state(net, "gaussian", gen), x)
                  for _ in range(ctx.options.swap_repeats)]
    return {"swap": sum(counts) / len(counts)}
