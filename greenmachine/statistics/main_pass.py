"""The main probe pass: forward and backward on the probe, split into chunks (ZiCo's batches).

One pass yields the per-layer activation, correlation and gradient statistics and the baselines
that are functions of them (snip, grad_norm, fisher, plain, zico, nwot, jacov), as defined in
PROXIES.md. The probe's B images run as `halves` chunks, so BatchNorm (train mode) normalises each
chunk on its own; everything else is taken over the whole probe, at the scale of one batch of B
(NASLib's convention: its stored NATS values match B = 64): the loss is cross-entropy on the
probe's labels averaged over all B images, so gradient statistics use the chunks' gradients
weighted by their share of the probe, fisher's saliencies are of that loss, and jacov correlates
the input Jacobians of all B images. Only zico compares the chunks' own gradients (each chunk's
mean loss), as its definition asks.

Values do not depend on the number of CPU threads (see THREADS_RTOL): the network's own kernels
(forward, gradients of activations) give the same numbers on any thread count, but multi-threaded
reductions split their sums in a thread-dependent order (weight gradients over the batch, Gram
matrices, eigensolvers), and zico's ratio of a mean to a spread of two near-equal gradients turns
that rounding into 1e-3 differences. So the weight gradients are computed by this pass's own hooks,
and every reduction of the pass runs on one thread.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from greenmachine.statistics.core import PassContext, probe_pass
from greenmachine.statistics.linalg import correlation_from_moments, rows_correlation, spectrum, spectrum_summary

JACOV_K = 1e-5
THREADS_RTOL = 1e-9
"""Main-pass statistics computed with different CPU thread counts agree to this, relative to each
statistic's largest magnitude over the layers (eigenvalues: absolute). Measured equal bit for bit on
NATS TSS and SSS networks; a network whose own forward kernels split sums by thread count (say, a
wide Linear) would bring that rounding in."""

_LAYER_STATS = {
    "act_in_frac": ("layer", 1, "fraction of the layer's input entries that are positive"),
    "act_in_code_entropy": ("layer", 1, "mean binary entropy (nats) of each input unit's on/off code over the probe samples"),
    "act_out_mean": ("layer", 1, "mean of the layer's output (pre-BN)"),
    "act_out_std": ("layer", 1, "standard deviation of the layer's output (pre-BN)"),
    "act_out_entropy": ("layer", 1, "mean over output channels of the Gaussian entropy 0.5 log(2 pi e var_c)"),
    "corr_min": ("layer", 1, "smallest eigenvalue of the output channels' Pearson correlation over batch and space"),
    "corr_max": ("layer", 1, "largest eigenvalue of that correlation matrix"),
    "corr_logmean": ("layer", 1, "mean log eigenvalue of that correlation matrix (eigenvalues floored at 1e-8)"),
    "corr_logcond": ("layer", 1, "log condition number of that correlation matrix"),
    "corr_entropy": ("layer", 1, "spectral entropy of that correlation matrix"),
    "grad_norm_layer": ("layer", 1, "Frobenius norm of the loss gradient w.r.t. the weight", "labelled"),
    "snip_layer": ("layer", 1, "sum |g * w| over the weight", "labelled"),
    "plain_layer": ("layer", 1, "sum g * w over the weight (signed)", "labelled"),
    "fisher_layer": ("layer", 2, "sum over output channels of |0.5 mean_n (sum_hw a dL/da)^2| times fan-in (L: the whole probe's)", "labelled"),
    "zico_layer": ("layer", 1, "log sum over weights of mean_m|g_m| / std_m(g_m) across the probe chunks (0 if none)", "labelled"),
}
_SCALARS = {
    "snip": ("scalar", 1, "SNIP: sum over weighted layers of |g * w|", "labelled", "baseline"),
    "grad_norm": ("scalar", 1, "sum over weighted layers of the gradient's Frobenius norm", "labelled", "baseline"),
    "plain": ("scalar", 1, "sum over weighted layers of g * w (signed)", "labelled", "baseline", "unreported"),
    "fisher": ("scalar", 2, "Fisher: sum over layers of the channel saliencies times fan-in (the whole probe's loss)", "labelled", "baseline"),
    "zico": ("scalar", 1, "ZiCo: sum over layers of log sum mean|g|/std(g) across the probe chunks", "labelled", "baseline"),
    "nwot": ("scalar", 1, "NASWOT: log|det K_H| of the ReLU-code Hamming kernel over the whole probe", "baseline"),
    "jacov": ("scalar", 2, "jacov: -sum(log(l + k) + 1/(l + k)), l: eigenvalues of the whole probe's input-Jacobian correlation", "baseline"),
}


class _LayerAccumulator:
    """Running sums for one weighted layer across the probe chunks."""

    def __init__(self) -> None:
        self.in_active: torch.Tensor | float = 0.0  # per input unit: samples in which it is positive
        self.samples = 0
        self.in_numel = 0
        self.total: torch.Tensor | float = 0.0  # per output channel: sum over observations
        self.outer: torch.Tensor | float = 0.0  # channels x channels: sum of outer products
        self.count = 0
        self.fisher: torch.Tensor | float = 0.0  # per output channel: sum over samples of s_nk^2 (float64)
        self.grads: list[torch.Tensor] = []  # per chunk: the weight gradient of the chunk's mean loss
        self.grad: torch.Tensor | float = 0.0  # the chunk being backpropagated, summed over the layer's calls

    def forward(self, inp: torch.Tensor, out: torch.Tensor) -> None:
        self.in_active = self.in_active + (inp > 0).sum(0, dtype=torch.float32)  # counts <= B: exact
        self.samples += inp.shape[0]
        self.in_numel += inp.numel()
        x = out.transpose(0, 1).reshape(out.shape[1], -1)  # channels x observations
        self.total = self.total + x.sum(1, dtype=torch.float64)
        self.outer = self.outer + (x @ x.T).double()
        self.count += x.shape[1]

    def backward(self, out: torch.Tensor, grad: torch.Tensor, share: float) -> None:
        """Add the saliencies of one chunk whose mean-loss gradient is `grad` and which is `share` of the probe."""
        prod = out * grad
        g_nk = prod.sum(dim=tuple(range(2, out.dim())), dtype=torch.float64) if out.dim() > 2 else prod.double()
        self.fisher = self.fisher + (share * g_nk).pow(2).sum(0)

    def end_chunk(self) -> None:
        self.grads.append(self.grad)
        self.grad = 0.0


@contextmanager
def _one_thread(device: torch.device) -> Iterator[None]:
    """Run the block on one CPU thread, so a kernel's reduction order does not depend on the thread count."""
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _computes_own_gradient(layer: nn.Module) -> bool:
    """Return whether `_weight_grad` gives this layer's weight gradient (a plain Conv2d or Linear)."""
    return type(layer).forward in (nn.Conv2d.forward, nn.Linear.forward) and not hasattr(layer, "parametrizations")


def _weight_grad(layer: nn.Module, inp: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Return d loss / d weight of one call of a plain Conv2d or Linear from its input and output gradient."""
    if isinstance(layer, nn.Linear):
        return grad.reshape(-1, grad.shape[-1]).T @ inp.reshape(-1, inp.shape[-1])
    padding = layer.padding
    if isinstance(padding, str) or layer.padding_mode != "zeros":
        mode = "constant" if layer.padding_mode == "zeros" else layer.padding_mode
        inp, padding = F.pad(inp, layer._reversed_padding_repeated_twice, mode=mode), 0
    return torch.nn.grad.conv2d_weight(inp, layer.weight.shape, grad, layer.stride, padding, layer.dilation,
                                       layer.groups)


def _binary_entropy(p: torch.Tensor) -> torch.Tensor:
    q = 1 - p
    return -(p * torch.log(p.clamp_min(1e-12)) + q * torch.log(q.clamp_min(1e-12)))


def _zico_term(grads: list[torch.Tensor]) -> float:
    """Return log sum mean|g|/std(g) over weights with nonzero std (population std), or 0.0 when there are none."""
    g = torch.stack(grads).double()
    std = (g - g.mean(dim=0)).pow(2).mean(dim=0).sqrt()  # torch.std over a leading dim of 2 is far slower
    ratio = g.abs().mean(dim=0) / std
    total = float(ratio[std > 0].sum())
    return math.log(total) if total > 0 else 0.0


def _jacov(jacobians: torch.Tensor) -> float:
    eig = spectrum(rows_correlation(jacobians.double()))
    return float(-(torch.log(eig + JACOV_K) + 1.0 / (eig + JACOV_K)).sum())


def _nwot(codes: list[list[torch.Tensor]]) -> float:
    """Return log|det K| of the Hamming kernel from ReLU codes (per chunk, per ReLU call: bool [b, n])."""
    kernel = None
    for per_call in zip(*codes, strict=True):
        c = torch.cat(per_call).to(torch.float32)
        ones = c.sum(1)
        k = 2 * (c @ c.T) - ones[:, None] - ones[None, :] + c.shape[1]  # integers below 2^24: exact in float32
        kernel = k.double() if kernel is None else kernel + k.double()
    if kernel is None:
        return float("nan")
    return float(torch.linalg.slogdet(kernel)[1])


@probe_pass("main", produces={**_LAYER_STATS, **_SCALARS}, uses=("halves",))
def main_pass(ctx: PassContext) -> dict[str, object]:
    """Run the chunked forward/backward and return the main pass's statistics."""
    with ctx.borrowed() as net:
        return _run_main(ctx, net)


def _run_main(ctx: PassContext, net: nn.Module) -> dict[str, object]:
    layers = ctx.layer_modules(net)
    index = {m: i for i, m in enumerate(layers)}
    acc = [_LayerAccumulator() for _ in layers]
    own = {m for m in layers if _computes_own_gradient(m)}
    for m in own:  # their gradients come from the hooks (one thread); autograd need not compute them
        m.weight.requires_grad_(False)
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    codes: list[list[torch.Tensor]] = []  # per chunk: ReLU input codes in call order
    tensor_hooks = []
    share = 0.0  # the current chunk's fraction of the probe

    def on_grad(a: _LayerAccumulator, layer: nn.Module, inp: torch.Tensor, out: torch.Tensor, g: torch.Tensor) -> None:
        g = g.detach()
        with _one_thread(g.device):
            a.backward(out, g, share)
            if layer in own:
                a.grad = a.grad + _weight_grad(layer, inp, g)

    def layer_hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        a = acc[index[module]]
        inp, out = inputs[0].detach(), output.detach()
        with _one_thread(out.device):
            a.forward(inp, out)
        if not output.requires_grad:  # nothing upstream needs a gradient: start the graph here so one arrives
            output = out.clone().requires_grad_(True).clone()
        tensor_hooks.append(output.register_hook(
            lambda g, a=a, m=module, inp=inp, out=out: on_grad(a, m, inp, out, g)))
        return output

    def relu_hook(module: nn.Module, inputs: tuple, _output: torch.Tensor) -> None:
        if inputs[0].dim() >= 2:
            codes[-1].append((inputs[0].detach() > 0).flatten(1))

    handles = [m.register_forward_hook(layer_hook) for m in layers]
    handles += [m.register_forward_hook(relu_hook) for m in relus]
    jacobians = []
    chunks = max(1, min(ctx.options.halves, ctx.probe.batch_size))
    batch = ctx.probe.batch_size
    try:
        for x, y in zip(ctx.probe.inputs.chunk(chunks), ctx.probe.targets.chunk(chunks), strict=True):
            share = x.shape[0] / batch
            x = x.detach().clone().requires_grad_(True)
            codes.append([])
            logits = net(x)
            F.cross_entropy(logits, y).backward(retain_graph=True)
            for h in tensor_hooks:
                h.remove()
            tensor_hooks.clear()
            for a, layer in zip(acc, layers, strict=True):
                if layer not in own:
                    a.grad = (layer.weight.grad.detach().clone() if layer.weight.grad is not None
                              else torch.zeros_like(layer.weight))
                elif isinstance(a.grad, float):  # no gradient reached it
                    a.grad = torch.zeros_like(layer.weight)
                a.end_chunk()
            net.zero_grad(set_to_none=True)
            (jac,) = torch.autograd.grad(logits.sum(), x)  # the whole probe's rows, as NASLib's batch of B
            jacobians.append(jac.flatten(1))
    finally:
        for h in handles + tensor_hooks:
            h.remove()

    with _one_thread(ctx.device):
        return _summarise(acc, layers, codes, torch.cat(jacobians), [c.shape[0] for c in ctx.probe.inputs.chunk(chunks)])


def _summarise(acc: list[_LayerAccumulator], layers: list[nn.Module], codes: list[list[torch.Tensor]],
               jacobians: torch.Tensor, counts: list[int]) -> dict[str, object]:
    """Return the main pass's statistics from its running sums (chunk sizes `counts`)."""
    batch = sum(counts)
    stats: dict[str, list[float]] = {name: [] for name in _LAYER_STATS}
    for a, layer in zip(acc, layers, strict=True):
        w = layer.weight.detach().double()
        g = sum(n / batch * grad.double() for n, grad in zip(counts, a.grads, strict=True))  # of the probe's mean loss
        mean_c = a.total / a.count
        var_c = (a.outer.diagonal() / a.count - mean_c**2).clamp_min(0)
        out_mean = float(mean_c.mean())
        spec = spectrum_summary(spectrum(correlation_from_moments(a.total, a.outer, a.count)))
        fan_in = w[0].numel()
        active = a.in_active.double()
        stats["act_in_frac"].append(float(active.sum()) / a.in_numel)
        stats["act_in_code_entropy"].append(float(_binary_entropy(active / a.samples).mean()))
        stats["act_out_mean"].append(out_mean)
        stats["act_out_std"].append(math.sqrt(max(float((var_c + mean_c**2).mean()) - out_mean**2, 0.0)))
        stats["act_out_entropy"].append(float((0.5 * torch.log(2 * math.pi * math.e * var_c + 1e-12)).mean()))
        for key in ("min", "max", "logmean", "logcond", "entropy"):
            stats[f"corr_{key}"].append(spec[key])
        stats["grad_norm_layer"].append(float(g.norm()))
        stats["snip_layer"].append(float((g * w).abs().sum()))
        stats["plain_layer"].append(float((g * w).sum()))
        stats["fisher_layer"].append(float(torch.as_tensor(0.5 * a.fisher / batch).abs().sum()) * fan_in)
        stats["zico_layer"].append(_zico_term(a.grads))

    result: dict[str, object] = {k: np.asarray(v, dtype=np.float64) for k, v in stats.items()}
    zico_terms = result["zico_layer"]
    result.update(
        snip=float(result["snip_layer"].sum()),
        grad_norm=float(result["grad_norm_layer"].sum()),
        plain=float(result["plain_layer"].sum()),
        fisher=float(result["fisher_layer"].sum()),
        zico=float(zico_terms.sum()),
        nwot=_nwot(codes),
        jacov=_jacov(jacobians),
    )
    return result
