"""Where feature-based proxies read a network: its block outputs and its pre-pooling feature map."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

CONTAINERS = (nn.Sequential, nn.ModuleList)
POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d)


def feature_blocks(net: nn.Module) -> list[nn.Module]:
    """Return the modules whose outputs are the network's successive feature maps.

    A network with `stem` and `cells` (the NATS networks, AZ-NAS's choice) gives the stem and every
    cell; any other network gives its top-level children, with Sequential/ModuleList containers
    expanded; the caller keeps those whose outputs are 4-D.
    """
    if hasattr(net, "stem") and isinstance(getattr(net, "cells", None), nn.ModuleList):
        return [net.stem, *net.cells]
    blocks: list[nn.Module] = []
    stack = list(net.children())[::-1]
    while stack:
        module = stack.pop()
        if isinstance(module, CONTAINERS):
            stack.extend(list(module.children())[::-1])
        else:
            blocks.append(module)
    return blocks


def run_capturing(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                  modules: list[nn.Module]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run `forward(x)` and return its output and the 4-D outputs of `modules` in execution order."""
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: tuple, output) -> None:
        if isinstance(output, torch.Tensor) and output.dim() == 4:
            captured.append(output)

    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        out = forward(x)
    finally:
        for h in handles:
            h.remove()
    return out, captured


def pre_pool_features(net: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Return the feature map entering the network's last pooling when `forward(x)` runs `net`.

    For the NATS networks this is the output of the final BN + ReLU (Zen-NAS's pre-GAP map); for
    another network, the input of the last pooling module that runs (or of the last Linear).
    """
    seen: list[torch.Tensor] = []

    def hook(_module: nn.Module, inputs: tuple) -> None:
        if inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].dim() >= 2:
            seen.append(inputs[0])

    pools = [m for m in net.modules() if isinstance(m, POOLS)] or [m for m in net.modules() if isinstance(m, nn.Linear)]
    handles = [m.register_forward_pre_hook(hook) for m in pools]
    try:
        forward(x)
    finally:
        for h in handles:
            h.remove()
    if not seen:
        raise ValueError(f"{type(net).__name__} has no pooling or Linear layer to read pre-pooling features from")
    return seen[-1]
