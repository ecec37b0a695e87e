"""Parameter and FLOP counts of any network, in the NATS-Bench convention (millions)."""

from __future__ import annotations

import torch
from torch import nn


def count_params(net: nn.Module) -> int:
    """Return the number of scalars in all parameters (weights, biases, BN affine); buffers excluded."""
    return sum(p.numel() for p in net.parameters())


def _conv_flops(module: nn.Conv2d | nn.Conv1d, output: torch.Tensor) -> int:
    positions = output[0, 0].numel()  # per image
    per_position = module.weight[0].numel()  # k_h * k_w * C_in / groups
    flops = per_position * module.out_channels * positions
    return flops + (module.out_channels * positions if module.bias is not None else 0)


def _linear_flops(module: nn.Linear, output: torch.Tensor) -> int:
    return module.in_features * module.out_features + (module.out_features if module.bias is not None else 0)


_COUNTERS = {nn.Conv2d: _conv_flops, nn.Conv1d: _conv_flops, nn.Linear: _linear_flops}


@torch.no_grad()
def count_flops(net: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Return per-image multiply-accumulates of Conv and Linear layers for an input of `input_shape` (C, H, W).

    Pooling, BatchNorm and activations are not counted (xautodl's flop_benchmark convention).
    The network is run once on zeros in eval mode and restored to its previous mode.
    """
    total = 0

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += _COUNTERS[type(module)](module, output)

    handles = [m.register_forward_hook(hook) for m in net.modules() if type(m) in _COUNTERS]
    was_training = net.training
    param = next(net.parameters(), None)
    try:
        net.eval()
        net(torch.zeros((1, *input_shape), dtype=param.dtype if param is not None else torch.float32,
                        device=param.device if param is not None else "cpu"))
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    return total
