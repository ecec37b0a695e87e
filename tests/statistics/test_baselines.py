"""Each baseline on a tiny fixed network against a second, independent computation of its definition."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import greenmachine as gm
from greenmachine.statistics import compute_statistics

WEIGHTED = ("conv1", "conv2", "fc")


def _grads(net, x, y):
    net = copy.deepcopy(net).train()
    loss = F.cross_entropy(net(x), y)
    weights = [getattr(net, n).weight for n in WEIGHTED]
    return [w.detach() for w in weights], [g.detach() for g in torch.autograd.grad(loss, weights)]


def _half_grads(net, probe):
    halves = zip(probe.inputs.chunk(2), probe.targets.chunk(2))
    return [_grads(net, x, y) for x, y in halves]


def test_gradient_baselines_match_autograd(tiny_net, tiny_probe):
    stats = compute_statistics(tiny_net, tiny_probe, ["snip", "grad_norm", "plain", "zico", "grad_norm_layer"])
    (w, g1), (_, g2) = _half_grads(tiny_net, tiny_probe)
    g = [(a + b) / 2 for a, b in zip(g1, g2)]
    assert stats.scalar["snip"] == pytest.approx(sum(float((gi * wi).abs().sum()) for gi, wi in zip(g, w)), rel=1e-5)
    assert stats.scalar["plain"] == pytest.approx(sum(float((gi * wi).sum()) for gi, wi in zip(g, w)), rel=1e-4)
    norms = [float(gi.norm()) for gi in g]
    assert stats.layer["grad_norm_layer"] == pytest.approx(norms, rel=1e-5)
    assert stats.scalar["grad_norm"] == pytest.approx(sum(norms), rel=1e-5)
    zico = 0.0
    for a, b in zip(g1, g2):  # two batches: mean|g| / population std = (|a|+|b|) / |a-b|
        a, b = a.double().numpy().ravel(), b.double().numpy().ravel()
        keep = a != b
        zico += math.log(((np.abs(a) + np.abs(b))[keep] / np.abs(a - b)[keep]).sum())
    assert stats.scalar["zico"] == pytest.approx(zico, rel=1e-4)


def test_fisher_matches_per_channel_saliency_times_fan_in(tiny_net, tiny_probe):
    # NASLib's fisher on one batch of all B images (loss averaged over B), BatchNorm run per chunk.
    stats = compute_statistics(tiny_net, tiny_probe, ["fisher"])
    net = copy.deepcopy(tiny_net).train()
    acts = {n: [] for n in WEIGHTED}
    hooks = [getattr(net, n).register_forward_hook(lambda m, i, o, n=n: acts[n].append(o)) for n in WEIGHTED]
    loss = sum(F.cross_entropy(net(x), y, reduction="sum") for x, y in
               zip(tiny_probe.inputs.chunk(2), tiny_probe.targets.chunk(2))) / tiny_probe.batch_size
    for h in hooks:
        h.remove()
    grads = torch.autograd.grad(loss, [o for n in WEIGHTED for o in acts[n]])
    total = 0.0
    for i, n in enumerate(WEIGHTED):
        a = torch.cat([o.detach() for o in acts[n]])
        grad = torch.cat(grads[2 * i : 2 * i + 2])
        s = (a * grad).sum(dim=(2, 3)) if a.dim() == 4 else a * grad
        delta = 0.5 * (s**2).mean(0)
        total += float(delta.abs().sum()) * getattr(net, n).weight[0].numel()
    assert stats.scalar["fisher"] == pytest.approx(total, rel=1e-5)


def test_synflow_of_a_linear_positive_network_is_layers_times_output():
    # With |theta|, no BN and an all-ones input the ReLUs pass everything, so each layer's
    # sum of w * dR/dw equals R (R is linear in every layer): synflow = log(3 R).
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Conv2d(4, 2, 1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3, bias=False))
    probe = gm.Probe(torch.randn(2, 3, 5, 5), torch.zeros(2, dtype=torch.long), "cifar10", "noise", 0)
    stats = compute_statistics(net, probe, ["synflow", "synflow_layer"])
    absolute = copy.deepcopy(net).double()
    with torch.no_grad():
        for p in absolute.parameters():
            p.abs_()
    absolute[1] = nn.Identity()
    with torch.no_grad():
        r = float(absolute(torch.ones(1, 3, 5, 5, dtype=torch.float64)).sum())
    assert stats.scalar["synflow"] == pytest.approx(math.log(3 * r), rel=1e-9)
    assert np.exp(stats.layer["synflow_layer"]) == pytest.approx([r, r, r], rel=1e-9)


def _numpy_min_eig(feature: np.ndarray) -> float:
    with np.errstate(all="ignore"):  # single-column features give NaN correlations, zeroed as MeCo does
        corr = np.nan_to_num(np.corrcoef(feature.reshape(feature.shape[0], -1)), nan=0.0)
    return float(np.linalg.eigvals(corr).real.min())


def test_meco_sums_min_eigenvalues_over_every_executed_module(tiny_net, tiny_probe):
    stats = compute_statistics(tiny_net, tiny_probe, ["meco", "meco_layer"])
    outputs = {}
    net = copy.deepcopy(tiny_net).train()

    def keep(name, output):
        outputs.setdefault(name, output.detach()[0].numpy())

    hooks = [m.register_forward_hook(lambda mod, i, o, name=name: keep(name, o)) for name, m in net.named_modules()]
    with torch.no_grad():
        net(tiny_probe.inputs[:1])
    for h in hooks:
        h.remove()
    expected = sum(_numpy_min_eig(o) for o in outputs.values() if o.ndim >= 1)
    assert stats.scalar["meco"] == pytest.approx(expected, abs=1e-6)
    assert stats.layer["meco_layer"] == pytest.approx([_numpy_min_eig(outputs[n]) for n in WEIGHTED], abs=1e-6)


def test_nwot_is_the_log_determinant_of_the_hamming_kernel(tiny_net, tiny_probe):
    stats = compute_statistics(tiny_net, tiny_probe, ["nwot"])
    codes = []
    for x in tiny_probe.inputs.chunk(2):
        net = copy.deepcopy(tiny_net).train()
        chunk = []
        hooks = [m.register_forward_hook(lambda mod, i, o: chunk.append((i[0] > 0).flatten(1).numpy()))
                 for m in (net.relu1, net.relu2)]
        with torch.no_grad():
            net(x)
        for h in hooks:
            h.remove()
        codes.append(chunk)
    kernel = np.zeros((8, 8))
    for per_relu in zip(*codes):
        c = np.concatenate(per_relu).astype(np.float64)
        kernel += c @ c.T + (1 - c) @ (1 - c).T
    assert stats.scalar["nwot"] == pytest.approx(np.linalg.slogdet(kernel)[1], abs=1e-9)


def test_jacov_from_the_input_jacobians_of_the_whole_probe(tiny_net, tiny_probe):
    stats = compute_statistics(tiny_net, tiny_probe, ["jacov"])
    net = copy.deepcopy(tiny_net).train()
    rows = []
    for chunk in tiny_probe.inputs.chunk(2):  # BatchNorm per chunk, as the main pass runs them
        x = chunk.clone().requires_grad_(True)
        rows.append(torch.autograd.grad(net(x).sum(), x)[0].flatten(1))
    eig = np.linalg.eigvalsh(np.corrcoef(torch.cat(rows).double().numpy()))
    assert len(eig) == tiny_probe.batch_size
    assert stats.scalar["jacov"] == pytest.approx(float(-np.sum(np.log(eig + 1e-5) + 1 / (eig + 1e-5))), rel=1e-6)


def test_grasp_matches_a_hessian_vector_product_from_torch_autograd_functional(tiny_net, tiny_probe):
    stats = compute_statistics(tiny_net, tiny_probe, ["grasp"])
    net = copy.deepcopy(tiny_net).train()
    names = [f"{n}.weight" for n in WEIGHTED]
    params = {k: v.detach() for k, v in net.named_parameters()}
    chunks = list(zip(tiny_probe.inputs.chunk(2), tiny_probe.targets.chunk(2)))

    def loss(*weights, x, y):
        return F.cross_entropy(torch.func.functional_call(net, {**params, **dict(zip(names, weights))}, (x,)), y)

    weights = tuple(params[n] for n in names)
    g = [sum(gs) / 2 for gs in zip(*(torch.autograd.grad(loss(*[w.requires_grad_() for w in weights], x=x, y=y), weights)
                                    for x, y in chunks))]
    hg = [sum(hs) / 2 for hs in zip(*(torch.autograd.functional.hvp(lambda *w, x=x, y=y: loss(*w, x=x, y=y),
                                                                     tuple(w.detach() for w in weights), tuple(g))[1]
                                       for x, y in chunks))]
    expected = sum(float((-w.detach() * h).sum()) for w, h in zip(weights, hg))
    assert stats.scalar["grasp"] == pytest.approx(expected, rel=1e-4, abs=1e-9)


def test_params_flops_and_l2_norm_by_hand(tiny_net, tiny_probe):
    stats = compute_statistics(tiny_net, tiny_probe, ["params", "flops", "l2_norm", "layer_flops", "depth"])
    params = 3 * 4 * 9 + 8 + 4 * 4 + 8 + 4 * 3 + 3
    flops = 3 * 4 * 9 * 36 + 4 * 4 * 36 + 4 * 3 + 3
    assert stats.scalar["params"] == pytest.approx(params / 1e6)
    assert stats.scalar["flops"] == pytest.approx(flops / 1e6)
    assert stats.scalar["depth"] == 3
    assert stats.scalar["l2_norm"] == pytest.approx(sum(float(getattr(tiny_net, n).weight.detach().norm()) for n in WEIGHTED))


def test_zen_recomputed_with_explicit_gaussian_weights(tiny_net, tiny_probe):
    stats = compute_statistics(tiny_net, tiny_probe, ["zen"])
    # The pass draws, from one generator seeded by the probe: every conv/linear weight in module
    # order, then x, then eps; biases 0, BN gamma 1, beta 0, fresh running statistics.
    gen = torch.Generator().manual_seed(tiny_probe.seed * 1_000_003 + 23)
    net = copy.deepcopy(tiny_net).train()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen))
                if m.bias is not None:
                    m.bias.zero_()
            if isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
        x = torch.randn((16, 3, 6, 6), generator=gen)
        eps = torch.randn((16, 3, 6, 6), generator=gen)
        delta = (net.features(x) - net.features(x + 0.01 * eps)).abs().sum(dim=(1, 2, 3)).mean()
    bn = sum(math.log(math.sqrt(float(m.running_var.mean()))) for m in (net.bn1, net.bn2))
    assert stats.scalar["zen"] == pytest.approx(math.log(float(delta)) + bn, rel=1e-5)


def test_swap_counts_distinct_activation_patterns(tiny_net, tiny_probe):
    options = gm.StatisticsOptions(swap_batch=8, swap_repeats=1)
    stats = compute_statistics(tiny_net, tiny_probe, ["swap"], options)
    gen = torch.Generator().manual_seed(tiny_probe.seed * 1_000_003 + 53)
    net = copy.deepcopy(tiny_net).train()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen))
                if m.bias is not None:
                    m.bias.zero_()
        patterns = []
        hooks = [m.register_forward_hook(lambda mod, i, o: patterns.append((o > 0).flatten(1).T.numpy()))
                 for m in (net.relu1, net.relu2)]
        net(tiny_probe.inputs)
    for h in hooks:
        h.remove()
    assert stats.scalar["swap"] == len(np.unique(np.concatenate(patterns), axis=0))


def test_az_nas_components_on_block_features():
    class Blocks(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4))
            self.cells = nn.ModuleList([nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)),
                                        nn.Sequential(nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False))])
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            x = self.stem(x)
            for c in self.cells:
                x = c(x)
            return self.head(x.mean(dim=(2, 3)))

    torch.manual_seed(0)
    net = Blocks()
    probe = gm.Probe(torch.randn(2, 3, 8, 8), torch.zeros(2, dtype=torch.long), "cifar10", "noise", 5)
    options = gm.StatisticsOptions(az_batch=6)
    stats = compute_statistics(net, probe, ["az_expressivity", "az_progressivity", "az_trainability"], options)

    gen = torch.Generator().manual_seed(5 * 1_000_003 + 37)
    ref = copy.deepcopy(net).train()
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2 / m.weight[0].numel()))
                if m.bias is not None:
                    m.bias.zero_()
    x = torch.randn((6, 3, 8, 8), generator=gen)
    f0 = ref.stem(x)
    f1 = ref.cells[0](f0)
    f2 = ref.cells[1](f1)

    def entropy(f):
        v = f.detach().permute(0, 2, 3, 1).reshape(-1, f.shape[1]).double().numpy()
        v = v - v.mean(0)
        s = np.clip(np.linalg.eigvalsh(v.T @ v / len(v)), 0, None)
        p = s / s.sum()
        return float(-(p * np.log(p + 1e-8)).sum())

    e = [entropy(f) for f in (f0, f1, f2)]
    assert stats.scalar["az_expressivity"] == pytest.approx(sum(e), rel=1e-6)
    assert stats.scalar["az_progressivity"] == pytest.approx(min(e[1] - e[0], e[2] - e[1]), rel=1e-6, abs=1e-9)

    def pair(f_in, f_out):
        g_out = torch.randint(0, 2, f_out.shape, generator=gen).float() * 2 - 1
        (g_in,) = torch.autograd.grad(f_out, f_in, g_out, retain_graph=True)
        if g_in.shape[-1] != g_out.shape[-1]:
            g_in = F.pixel_unshuffle(g_in, g_in.shape[-1] // g_out.shape[-1])
        a = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1]).double().numpy()
        b = g_out.permute(0, 2, 3, 1).reshape(-1, g_out.shape[1]).double().numpy()
        s = np.linalg.svd(a.T @ b / len(a), compute_uv=False)[0]
        return -s - 1 / (s + 1e-6) + 2

    expected = (pair(f1, f2) + pair(f0, f1)) / 2  # pairs are visited from the last block backwards
    assert stats.scalar["az_trainability"] == pytest.approx(expected, rel=1e-5)


def test_statistics_are_deterministic_and_leave_the_network_untouched(tiny_net, tiny_probe):
    before = {k: v.clone() for k, v in tiny_net.state_dict().items()}
    tiny_net.eval()
    first = compute_statistics(tiny_net, tiny_probe, gm.statistics.STATISTICS.names())
    second = compute_statistics(tiny_net, tiny_probe, gm.statistics.STATISTICS.names())
    assert not tiny_net.training
    assert all(torch.equal(before[k], v) for k, v in tiny_net.state_dict().items())
    assert all(p.grad is None for p in tiny_net.parameters())
    for name in first.scalar:
        assert first.scalar[name] == second.scalar[name] or (np.isnan(first.scalar[name]) and np.isnan(second.scalar[name]))
    for name in first.layer:
        np.testing.assert_array_equal(first.layer[name], second.layer[name])


def test_score_by_name_and_pool_relative_error(tiny_net, tiny_probe):
    scores = gm.score(tiny_net, tiny_probe, ["snip", "params"])
    assert set(scores) == {"snip", "params"}
    with pytest.raises(gm.errors.GreenmachineError, match="az_nas ranks archs against each other"):
        gm.score(tiny_net, tiny_probe, ["az_nas"])
    with pytest.raises(gm.errors.UnknownNameError, match="unknown proxy 'sed'"):
        gm.score(tiny_net, tiny_probe, ["sed"])


def test_score_takes_a_plain_batch_and_names_the_valid_forms_of_a_bad_one(tiny_net, tiny_probe):
    plain = gm.Probe(tiny_probe.inputs, tiny_probe.targets, "custom", "user", 0)
    expected = gm.score(tiny_net, plain, ["snip", "synflow"])
    assert gm.score(tiny_net, (tiny_probe.inputs, tiny_probe.targets), ["snip", "synflow"]) == expected
    assert gm.score(tiny_net, tiny_probe.inputs, ["synflow"]) == {"synflow": expected["synflow"]}
    with pytest.raises(gm.errors.GreenmachineError, match="reads snip, which depend on labels; pass the images' labels too \\(int \\[8\\]\\)"):
        gm.score(tiny_net, tiny_probe.inputs, ["snip"])
    bad = [(tiny_probe.inputs[0], "probe images are a torch.float32 tensor of shape \\(3, 6, 6\\)"),
           ("images.npz", "probe images are a str"),
           ((tiny_probe.inputs,), "probe is a tuple of length 1"),
           ((tiny_probe.inputs, tiny_probe.targets[:3]), "probe labels are a torch.int64 tensor of shape \\(3,\\), not int \\[8\\]")]
    for batch, message in bad:
        with pytest.raises(gm.errors.GreenmachineError, match=message + ".*valid: a Probe"):
            gm.score(tiny_net, batch, ["synflow"])


def _same_statistics(a: gm.Statistics, b: gm.Statistics) -> bool:
    return (a.layer.keys() == b.layer.keys() and a.scalar == b.scalar
            and all(np.array_equal(a.layer[k], b.layer[k], equal_nan=True) for k in a.layer))


def test_compute_statistics_takes_the_forms_score_takes(tiny_net, tiny_probe):
    names = gm.PROXIES["snip"].statistics + gm.PROXIES["synflow"].statistics
    plain = gm.Probe(tiny_probe.inputs, tiny_probe.targets, "custom", "user", 0)
    expected = gm.compute_statistics(tiny_net, plain, names)
    assert _same_statistics(gm.compute_statistics(tiny_net, (tiny_probe.inputs, tiny_probe.targets), names), expected)
    label_free = gm.PROXIES["synflow"].statistics
    assert _same_statistics(gm.compute_statistics(tiny_net, tiny_probe.inputs, label_free),
                            gm.compute_statistics(tiny_net, plain, label_free))
    with pytest.raises(gm.errors.GreenmachineError, match="which depend on labels; pass the images' labels too"):
        gm.compute_statistics(tiny_net, tiny_probe.inputs, names)
    with pytest.raises(gm.errors.GreenmachineError, match="probe is a tuple of length 1.*valid: a Probe"):
        gm.compute_statistics(tiny_net, (tiny_probe.inputs,), label_free)
