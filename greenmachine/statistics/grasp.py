"""GraSP: -theta * (H g), the Hessian-gradient product of the loss, summed over weighted layers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from greenmachine.statistics.core import PassContext, probe_pass


@probe_pass("grasp", produces={
    "grasp": ("scalar", 1, "GraSP: sum over weighted layers of -w * (H g), T = 1, mean over the probe chunks",
              "labelled", "baseline"),
}, uses=("halves",), tags=("expensive",))
def grasp_pass(ctx: PassContext) -> dict[str, object]:
    """Return GraSP with an exact Hessian-vector product (double backward), chunked like the main pass.

    Each chunk runs forward once: its weight gradients are taken with their graph kept, so they
    give both g (their mean over the chunks) and H g (the backward of g . grad). A gradient with its
    graph kept has the same values as one without, so this equals NASLib's two passes over the
    probe bit for bit, at one forward and one first-order backward less per chunk.
    """
    with ctx.borrowed() as net:
        return _run_grasp(ctx, net)


def _run_grasp(ctx: PassContext, net: nn.Module) -> dict[str, object]:
    weights = [layer.weight for layer in ctx.layer_modules(net)]
    chunks = max(1, min(ctx.options.halves, ctx.probe.batch_size))
    batches = list(zip(ctx.probe.inputs.chunk(chunks), ctx.probe.targets.chunk(chunks), strict=True))
    per_chunk = [torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True, allow_unused=True)
                 for x, y in batches]
    grad = [torch.zeros_like(w) for w in weights]
    for parts in per_chunk:
        for g, part in zip(grad, parts, strict=True):
            if part is not None:
                g += part.detach() / chunks
    for parts in per_chunk:
        z = sum((g * part).sum() for g, part in zip(grad, parts, strict=True) if part is not None)
        (z / chunks).backward()
    total = sum(float((-w.detach() * w.grad).sum()) for w in weights if w.grad is not None)
    return {"grasp": total}
