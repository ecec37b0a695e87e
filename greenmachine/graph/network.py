"""The OpGraph of any PyTorch network, read from the autograd graph of one forward: graph features for every space.

A space without an arch-level graph (a user's plug-in) still gets GRAF-style features this way. The ops
are what autograd records, grouped into NETWORK_KINDS; identities leave no trace (a skip connection shows
only as the `add` where it rejoins), and a branch multiplied by a constant zero (the NATS `none` op) is cut.
"""

from __future__ import annotations

import torch
from torch import nn

from greenmachine.graph.opgraph import INPUT, OUTPUT, OpGraph

NETWORK_KINDS = ("conv1x1", "conv", "dwconv", "linear", "pool", "norm", "act")
_BY_NAME = {
    "AddmmBackward0": "linear", "MmBackward0": "linear", "LinearBackward0": "linear",
    "AvgPool2DBackward0": "pool", "MaxPool2DWithIndicesBackward0": "pool", "AdaptiveAvgPool2DBackward0": "pool",
    "AdaptiveMaxPool2DBackward0": "pool", "MeanBackward1": "pool",
    "NativeBatchNormBackward0": "norm", "CudnnBatchNormBackward0": "norm", "NativeLayerNormBackward0": "norm",
    "NativeGroupNormBackward0": "norm",
    "ReluBackward0": "act", "GeluBackward0": "act", "SiluBackward0": "act", "SigmoidBackward0": "act",
    "TanhBackward0": "act", "HardtanhBackward0": "act", "LeakyReluBackward0": "act", "EluBackward0": "act",
    "HardswishBackward0": "act", "HardsigmoidBackward0": "act", "MishBackward0": "act",
}


def _is_zero_branch(node) -> bool:
    other = getattr(node, "_saved_other", None)
    return (type(node).__name__ == "MulBackward0" and isinstance(other, torch.Tensor) and other.dim() == 0
            and float(other) == 0.0)


def _kind(node) -> str | None:
    """Return the NETWORK_KINDS kind of an autograd node, or None for one that computes no op of its own."""
    name = type(node).__name__
    if name.startswith("Convolution"):
        weight = node.next_functions[1][0]
        shape = tuple(weight.variable.shape) if hasattr(weight, "variable") else (0, 0, 0, 0)
        if int(getattr(node, "_saved_groups", 1)) > 1:
            return "dwconv"
        return "conv1x1" if all(s == 1 for s in shape[2:]) else "conv"
    return _BY_NAME.get(name)


def network_graph(net: nn.Module, input_shape: tuple[int, ...]) -> OpGraph:
    """Return the OpGraph of the ops on input -> output paths of `net`, from one eval-mode forward of one random input.

    Args:
        net: any module mapping images [B, *input_shape] to logits.
        input_shape: one input's shape, e.g. (3, 32, 32).
    """
    x = torch.randn((1, *input_shape), generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    was_training = net.training
    net.eval()
    try:
        with torch.enable_grad():
            logits = net(x)
    finally:
        net.train(was_training)
    # Post-order over the backward graph (iterative: deep networks); keep nodes that reach the input.
    reaches: dict[object, bool] = {}
    order: list[object] = []
    stack: list[tuple[object, bool]] = [(logits.grad_fn, False)]
    while stack:
        node, expanded = stack.pop()
        if node in reaches and not expanded:
            continue
        if type(node).__name__ == "AccumulateGrad":
            reaches[node] = node.variable is x
            if reaches[node]:
                order.append(node)
            continue
        if _is_zero_branch(node):
            reaches[node] = False
            continue
        children = [c for c, _ in node.next_functions if c is not None]
        if not expanded:
            reaches[node] = False  # placeholder until its children are done
            stack.append((node, True))
            stack.extend((c, False) for c in children if c not in reaches)
            continue
        reaches[node] = any(reaches.get(c, False) for c in children)
        if reaches[node]:
            order.append(node)
    index = {node: i for i, node in enumerate(order)}  # children come first: a topological order
    ops, edges = [], []
    for node in order:
        kind = INPUT if type(node).__name__ == "AccumulateGrad" else (_kind(node) or "add")
        ops.append(kind)
        if kind != INPUT:
            edges.extend((index[c], index[node]) for c, _ in node.next_functions if c in index)
    ops.append(OUTPUT)
    edges.append((len(order) - 1, len(order)))
    return OpGraph(tuple(ops), tuple(sorted(set(edges))))
