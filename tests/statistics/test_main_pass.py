"""The main pass's conventions: values independent of the thread count, fisher and jacov on NASLib's scale."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from greenmachine.archs import select_archs
from greenmachine.config import ProbeConfig
from greenmachine.data import make_probe
from greenmachine.data.probe import Probe
from greenmachine.paths import data_dir
from greenmachine.spaces import get_space
from greenmachine.statistics import PASSES, StatisticsOptions, compute_statistics
from greenmachine.statistics.cache import init_seed
from greenmachine.statistics.main_pass import JACOV_K, THREADS_RTOL

# A TSS cell with every op kind (conv 3x3 and 1x1, pool, skip, none).
TSS_ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


def _tss_net(arch: int | str, probe_seed: int = 0) -> nn.Module:
    space = get_space("nats_tss")
    index = space.resolve(arch)[0] if isinstance(arch, str) else arch
    torch.manual_seed(init_seed(probe_seed, index))
    return space.build(index, "cifar10")


@pytest.fixture
def threads():
    """Restore torch's thread count after the test (values do not depend on it; a loaded machine runs faster on one)."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("threads")
def test_main_pass_values_do_not_depend_on_the_thread_count():
    gen = torch.Generator().manual_seed(0)
    probe = Probe(torch.randn(16, 3, 32, 32, generator=gen), torch.randint(0, 10, (16,), generator=gen), "cifar10",
                  "noise", 0)
    names = list(PASSES["main"].produces)
    net = _tss_net(TSS_ARCH)
    by_threads = {}
    for n in (1, 2):
        torch.set_num_threads(n)
        by_threads[n] = compute_statistics(net, probe, names)
    one, two = by_threads[1], by_threads[2]
    for name in names:
        a, b = np.atleast_1d(one[name]), np.atleast_1d(two[name])
        scale = max(float(np.abs(a).max()), 1.0 if name.startswith("corr_") else 1e-300)  # eigenvalues: absolute
        assert np.abs(a - b).max() <= THREADS_RTOL * scale, name


def _tiny_linear_probe() -> tuple[nn.Module, Probe, np.ndarray, np.ndarray, np.ndarray]:
    """Return a one-layer Linear network (no BN, so chunks do not matter), its probe and its weights by hand."""
    w = np.array([[0.5, -1.0, 0.25], [1.5, 0.5, -0.5]])
    b = np.array([0.1, -0.2])
    x = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 2.0], [-1.0, 1.0, 1.0], [2.0, 0.0, 0.5]])
    net = nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor(w))
        net.bias.copy_(torch.tensor(b))
    probe = Probe(torch.tensor(x, dtype=torch.float32), torch.tensor([0, 1, 1, 0]), "cifar10", "noise", 0)
    return net, probe, w, b, x


def test_fisher_of_a_linear_layer_by_hand():
    # L = mean over the B = 4 probe images of CE, so dL/da = (softmax(a) - onehot) / B for a = W x + b;
    # fisher = sum_k 0.5 mean_n (a_nk dL/da_nk)^2 * fan-in (3), whether the probe runs as 1 or 2 chunks.
    net, probe, w, b, x = _tiny_linear_probe()
    a = x @ w.T + b
    p = np.exp(a) / np.exp(a).sum(1, keepdims=True)
    grad = (p - np.eye(2)[[0, 1, 1, 0]]) / 4
    expected = float((0.5 * ((a * grad) ** 2).mean(0)).sum() * 3)
    for halves in (1, 2):
        stats = compute_statistics(net, probe, ["fisher"], StatisticsOptions(halves=halves))
        assert stats.scalar["fisher"] == pytest.approx(expected, rel=1e-6)


def test_jacov_of_a_linear_layer_by_hand():
    # Every image's input Jacobian of the summed logits is the column sum of W: the B x B correlation is all
    # ones, eigenvalues B and 0 (B - 1 times), over the whole probe (B = 4) however many chunks it runs as.
    net, probe, *_ = _tiny_linear_probe()
    k = JACOV_K
    expected = -(math.log(4 + k) + 1 / (4 + k) + 3 * (math.log(k) + 1 / k))
    for halves in (1, 2):
        stats = compute_statistics(net, probe, ["jacov"], StatisticsOptions(halves=halves))
        assert stats.scalar["jacov"] == pytest.approx(expected, rel=1e-9)


def _naslib() -> pd.DataFrame:
    frame = pd.read_csv(data_dir() / "nats_tss" / "zc_proxies_naslib.csv.gz")
    return frame[frame.dataset == "cifar10"].set_index("arch_index")


@pytest.mark.usefixtures("threads")
def test_fisher_and_jacov_of_a_fixed_tss_network_on_the_cifar10_probe():
    # Recorded after matching NASLib's convention (loss averaged over the whole batch of 64, the
    # Jacobians of all 64 images); NASLib's stored values for this arch: fisher 0.15237, jacov -83.230.
    torch.set_num_threads(1)
    probe = make_probe("cifar10", ProbeConfig())
    stats = compute_statistics(_tss_net(7648), probe, ["fisher", "jacov"])
    assert stats.scalar["fisher"] == pytest.approx(0.1534168, rel=1e-4)
    assert stats.scalar["jacov"] == pytest.approx(-83.40739, rel=1e-5)
    assert stats.scalar["jacov"] <= -probe.batch_size  # each eigenvalue adds at least 1: the bound of B rows


@pytest.mark.slow
@pytest.mark.usefixtures("threads")
def test_fisher_and_jacov_sit_on_naslibs_scale():
    # NASLib's images are augmented training images and ours the shared test set, so single archs
    # differ (quartiles of the ratio about 0.8 and 1.3); the median over archs is near 1.
    torch.set_num_threads(1)
    naslib = _naslib()
    probe = make_probe("cifar10", ProbeConfig())
    archs = [int(a) for a in select_archs("nats_tss", 40) if a in naslib.index][:16]
    ratios = {"fisher": [], "jacov": []}
    for arch in archs:
        stats = compute_statistics(_tss_net(arch), probe, ["fisher", "jacov"])
        for name in ratios:
            ratios[name].append(stats.scalar[name] / naslib.loc[arch, name])
    for name, values in ratios.items():
        assert 0.8 < float(np.median(values)) < 1.25, (name, np.median(values))
