"""Re-initialisations some proxies prescribe, as parameter/buffer dicts for `torch.func.functional_call`.

Running a network through `functional_call` with these states re-initialises it without copying
or touching the user's module.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from greenmachine.registry import Registry

WeightInit = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
INITS: Registry[WeightInit] = Registry("initialisation")


@INITS.register("gaussian")
def _gaussian(weight: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(weight.shape, generator=gen, device=weight.device, dtype=weight.dtype)


@INITS.register("kaiming_fan_in")
def _kaiming_fan_in(weight: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return _gaussian(weight, gen) * math.sqrt(2.0 / weight[0].numel())


def reinitialised_state(net: nn.Module, init: str, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Return new values for every parameter and buffer of `net`, for `functional_call`.

    Conv2d/Linear weights are drawn by INITS[init] (in module order, from `gen`), their biases are
    zero; BatchNorm gets gamma 1, beta 0 and fresh running statistics; anything else keeps a
    detached copy of its current value.
    """
    draw = INITS[init]
    state: dict[str, torch.Tensor] = {}
    for prefix, module in net.named_modules():
        for name, value in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
            key = f"{prefix}.{name}" if prefix else name
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                new = draw(value, gen) if name == "weight" else torch.zeros_like(value)
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                fresh = {"weight": torch.ones_like, "running_var": torch.ones_like}
                new = fresh.get(name, torch.zeros_like)(value)
            else:
                new = value.detach().clone()
            state[key] = new.requires_grad_(True) if isinstance(value, nn.Parameter) else new
    return state
