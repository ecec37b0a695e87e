"""Data-free statistics: layer shapes, sizes, costs and topology, read from one tiny forward.

The topology descriptors walk the autograd graph of a forward on one probe image, so they work
on any network: a path is a chain of autograd nodes from the input to the logits, and a branch
that multiplies by a constant zero (the NATS `none` op) carries nothing.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch
from torch import nn

from greenmachine.cost import count_flops, count_params
from greenmachine.statistics.core import PassContext, probe_pass


def _is_zero_branch(node) -> bool:
    other = getattr(node, "_saved_other", None)
    return (type(node).__name__ == "MulBackward0" and isinstance(other, torch.Tensor) and other.dim() == 0
            and float(other) == 0.0)


def graph_paths(logits: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
    """Return conv counts on the longest and shortest input->output paths, merges and log path count.

    Args:
        logits: an output of the network, computed from `x` with autograd enabled.
        x: the input tensor (requires grad).
    """
    source = x.grad_fn  # None for a leaf: the AccumulateGrad node stands for it
    memo: dict[object, tuple[float, float, float] | None] = {}

    def visit(node) -> tuple[float, float, float] | None:
        # returns (max convs, min convs, log number of paths) to the input, or None if unreachable
        if node is None:
            return None
        if node in memo:
            return memo[node]
        if source is None and type(node).__name__ == "AccumulateGrad":
            result = (0.0, 0.0, 0.0) if node.variable is x else None
        elif node is source:
            result = (0.0, 0.0, 0.0)
        elif _is_zero_branch(node):
            result = None
        else:
            children = [visit(child) for child, _ in node.next_functions]
            children = [c for c in children if c is not None]
            if not children:
                result = None
            else:
                is_conv = 1.0 if type(node).__name__.startswith("Convolution") else 0.0
                log_paths = float(np.logaddexp.reduce([c[2] for c in children]))
                result = (max(c[0] for c in children) + is_conv, min(c[1] for c in children) + is_conv, log_paths)
        memo[node] = result
        return result

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 100_000))
    try:
        found = visit(logits.grad_fn)
    finally:
        sys.setrecursionlimit(limit)
    merges = sum(1 for node, r in memo.items() if r is not None and type(node).__name__ == "AddBackward0")
    if found is None:
        return {"path_convs_max": 0.0, "path_convs_min": 0.0, "log_paths": -math.inf, "merges": float(merges)}
    return {"path_convs_max": found[0], "path_convs_min": found[1], "log_paths": found[2], "merges": float(merges)}


ENTROPY_BATCH = 8


def _entropy_changes(ctx: PassContext, layers: list[nn.Module]) -> dict[str, object]:
    """Return per-layer and summed-negative Gaussian-entropy changes of modules on a Gaussian batch.

    In the spirit of SED (arXiv 2411.06236), whose exact formula was not available: an op that
    scales the variance of what flows through it by r changes its Gaussian entropy by 0.5 log r;
    pooling lowers it, BN-normalised convolutions keep it. Modules whose output is all zero (the
    `none` op) carry nothing and are skipped.
    """
    changes: dict[nn.Module, float] = {}
    drops = []

    def hook(module: nn.Module, inputs: tuple, output) -> None:
        if not (inputs and isinstance(inputs[0], torch.Tensor) and isinstance(output, torch.Tensor)):
            return
        var_in, var_out = float(inputs[0].double().var()), float(output.double().var())
        if var_in > 0 and var_out > 0:
            change = 0.5 * math.log(var_out / var_in)
            changes.setdefault(module, change)
            drops.append(min(change, 0.0))

    gen = ctx.generator(salt=71)
    x = torch.randn((ENTROPY_BATCH, *ctx.probe.inputs.shape[1:]), generator=gen, device=ctx.device)
    with ctx.borrowed() as net, torch.no_grad():
        leaves = [m for m in net.modules() if next(m.children(), None) is None]
        handles = [m.register_forward_hook(hook) for m in leaves]
        try:
            net(x)
        finally:
            for h in handles:
                h.remove()
    return {
        "entropy_change_layer": np.asarray([changes.get(m, 0.0) for m in layers], dtype=np.float64),
        "entropy_drop": float(sum(drops)),
    }


@probe_pass("structure", produces={
    "layer_params": ("layer", 1, "scalars in the layer's weight and bias"),
    "layer_flops": ("layer", 1, "multiply-accumulates of the layer per image (millions)"),
    "layer_width": ("layer", 1, "output channels (features for Linear)"),
    "layer_kernel": ("layer", 1, "kernel height times width (1 for Linear)"),
    "layer_resolution": ("layer", 1, "output height times width (1 for Linear)"),
    "layer_position": ("layer", 1, "position of the layer in forward order divided by the number of layers"),
    "weight_norm_layer": ("layer", 1, "Frobenius norm of the weight at the given initialisation"),
    "params": ("scalar", 1, "#params in millions (all nn.Parameters, NATS convention)", "baseline"),
    "flops": ("scalar", 1, "FLOPs in millions (Conv and Linear multiply-accumulates per image, NATS convention)", "baseline"),
    "depth": ("scalar", 1, "number of weighted layers (Conv2d and Linear) that run"),
    "l2_norm": ("scalar", 1, "sum over weighted layers of the weight's Frobenius norm", "baseline"),
    "path_convs_max": ("scalar", 1, "convolutions on the input->output path with the most of them", "graph_count"),
    "path_convs_min": ("scalar", 1, "convolutions on the input->output path with the fewest of them", "graph_count"),
    "log_paths": ("scalar", 1, "log of the number of input->output paths through nonzero branches", "graph_count"),
    "merges": ("scalar", 1, "additions on input->output paths (residual and cell merges)", "graph_count"),
    "entropy_change_layer": ("layer", 1, "0.5 log(var_out / var_in) of the layer on a Gaussian batch (its Gaussian-entropy change)"),
    "entropy_drop": ("scalar", 1, "sum over leaf modules of the Gaussian-entropy decreases 0.5 log(var_out / var_in) < 0 on a Gaussian batch"),
}, tags=("lean",))
def structure_pass(ctx: PassContext) -> dict[str, object]:
    """Return layer shapes, sizes and costs, graph descriptors and Gaussian-entropy changes; no data is read."""
    net = ctx.net
    layers = ctx.layer_modules(net)
    shapes: dict[nn.Module, tuple[int, ...]] = {}

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        shapes.setdefault(module, tuple(output.shape))

    handles = [m.register_forward_hook(hook) for m in layers]
    was_training = net.training
    x = ctx.probe.inputs[:1].detach().clone().requires_grad_(True)
    try:
        net.eval()
        with torch.enable_grad():
            topology = graph_paths(net(x), x)
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    input_shape = tuple(ctx.probe.inputs.shape[1:])
    per_layer = {k: [] for k in ("layer_params", "layer_flops", "layer_width", "layer_kernel", "layer_resolution",
                                  "weight_norm_layer")}
    for layer in layers:
        shape = shapes[layer]
        positions = math.prod(shape[2:]) if len(shape) > 2 else 1
        kernel = math.prod(layer.weight.shape[2:]) if layer.weight.dim() > 2 else 1
        per_layer["layer_params"].append(sum(p.numel() for p in layer.parameters(recurse=False)))
        bias = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels * positions
        macs = layer.weight.numel() * positions + (bias if layer.bias is not None else 0)
        per_layer["layer_flops"].append(macs / 1e6)
        per_layer["layer_width"].append(shape[1])
        per_layer["layer_kernel"].append(kernel)
        per_layer["layer_resolution"].append(positions)
        per_layer["weight_norm_layer"].append(float(layer.weight.detach().norm()))
    result: dict[str, object] = {k: np.asarray(v, dtype=np.float64) for k, v in per_layer.items()}
    result["layer_position"] = np.arange(1, len(layers) + 1, dtype=np.float64) / len(layers)
    result.update(_entropy_changes(ctx, layers))
    result.update(
        params=count_params(net) / 1e6,
        flops=count_flops(net, input_shape) / 1e6,
        depth=float(len(layers)),
        l2_norm=float(result["weight_norm_layer"].sum()),
        **topology,
    )
    return result
