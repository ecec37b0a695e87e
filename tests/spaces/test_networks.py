"""Our NATS networks against the benchmark's own numbers: parameter counts, FLOPs, structure, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import greenmachine as gm
from greenmachine.cost import count_flops, count_params
from greenmachine.errors import UnknownNameError
from greenmachine.paths import data_dir
from greenmachine.spaces import ArchIndexError, ArchStringError, get_space

ARCH_11 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"

# PROXIES.md section 2.5 (NATS records): (space, arch, dataset) -> (params, FLOPs in millions)
TEST_VECTORS = [
    ("nats_tss", ARCH_11, "cifar10", 802426, 113.95137),
    ("nats_tss", ARCH_11, "cifar100", 808276, 113.95722),
    ("nats_tss", ARCH_11, "ImageNet16-120", 809576, 28.49548),
    ("nats_tss", 3558, "cifar10", 858426, 121.81569),
    ("nats_tss", 3558, "cifar100", 864276, 121.82154),
    ("nats_tss", 3558, "ImageNet16-120", 865576, 30.46156),
    ("nats_sss", "8:8:8:16:32", "cifar10", 49202, 6.84065),
    ("nats_sss", "8:8:8:16:32", "cifar100", 52172, 6.84362),
    ("nats_sss", "8:8:8:16:32", "ImageNet16-120", 52832, 1.71404),
]


@pytest.mark.parametrize(("space", "arch", "dataset", "params", "mflops"), TEST_VECTORS)
def test_params_and_flops_match_nats_records(space, arch, dataset, params, mflops):
    net = gm.build_network(space, arch, dataset)
    resolution = 16 if dataset == "ImageNet16-120" else 32
    assert count_params(net) == params
    assert count_flops(net, (3, resolution, resolution)) == round(mflops * 1e6)


def test_best_tss_arch_has_the_official_parameter_count():
    net = gm.build_network("nats_tss", 6111, "cifar10")
    assert sum(p.numel() for p in net.parameters()) == 1073466


@pytest.mark.slow
def test_every_naslib_tss_arch_has_naslibs_parameter_count():
    """All 9,445 archs of NAS-Bench-Suite-Zero, cifar10 and ImageNet16-120 heads (18,890 networks)."""
    table = pd.read_csv(data_dir() / "nats_tss" / "zc_proxies_naslib.csv.gz", usecols=["arch_index", "dataset", "params"])
    assert len(table) == 18_890
    mismatches = []
    for arch, dataset, params_m in table.itertuples(index=False):
        got = count_params(gm.build_network("nats_tss", int(arch), dataset))
        if got != round(params_m * 1e6):
            mismatches.append((arch, dataset, got, params_m))
    assert mismatches == []


def test_sss_parameter_count_by_hand():
    # 8:8:8:16:32 with a 10-class head, counted from the structure in PROXIES.md 2.4.
    c0, c1, c2, c3, c4 = 8, 8, 8, 16, 32
    bn = lambda c: 2 * c  # noqa: E731
    conv = lambda ci, co, k: ci * co * k * k  # noqa: E731
    stem = conv(3, c0, 3) + bn(c0)

    def cell(ci, co):  # 5 x conv3x3 (three from node 0 minus the skip) + skip as 1x1+BN when shapes change
        from_input = 2 * (conv(ci, co, 3) + bn(co))
        inner = 3 * (conv(co, co, 3) + bn(co))
        skip = conv(ci, co, 1) + bn(co) if ci != co else 0
        return from_input + inner + skip

    def reduction(ci, co):
        return conv(ci, co, 3) + bn(co) + conv(co, co, 3) + bn(co) + conv(ci, co, 1)

    total = stem + cell(c0, c0) + reduction(c0, c1) + cell(c1, c2) + reduction(c2, c3) + cell(c3, c4) + bn(c4) + c4 * 10 + 10
    assert total == 49202
    assert count_params(gm.build_network("nats_sss", "8:8:8:16:32", "cifar10")) == total


def test_sss_index_order_matches_the_official_mapping():
    mapping = pd.read_csv(data_dir() / "nats_sss" / "index_to_channels.csv.gz")
    space = get_space("nats_sss")
    assert [space.arch_string(i) for i in mapping.arch_index] == list(mapping.channels)
    assert space.index_of("64:64:56:64:24") == int(mapping.index[mapping.channels == "64:64:56:64:24"][0])


def test_tss_index_order_matches_the_official_table():
    table = pd.read_csv(data_dir() / "nats_tss" / "accuracies_wide.csv.gz", usecols=["arch_index", "arch_str"])
    space = get_space("nats_tss")
    assert [space.arch_string(i) for i in table.arch_index] == list(table.arch_str)


def test_forward_returns_logits_of_the_right_shape_and_backward_hooks_work():
    net = gm.build_network("nats_tss", 11, "ImageNet16-120")
    assert not any(getattr(m, "inplace", False) for m in net.modules())
    grads = []
    for m in net.modules():
        if isinstance(m, torch.nn.ReLU):
            m.register_full_backward_hook(lambda mod, gi, go: grads.append(go[0].shape))
    out = net(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 120)
    out.sum().backward()
    assert grads


def test_none_op_keeps_the_graph_and_gives_zero_gradient():
    net = gm.build_network("nats_tss", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "cifar10")
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    net(x).sum().backward()
    assert x.grad is not None and torch.count_nonzero(x.grad) == 0


@pytest.mark.parametrize(("space", "arch", "message"), [
    ("nats_tss", 15625, "out of range"),
    ("nats_tss", -1, "out of range"),
    ("nats_tss", "|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'conv_5x5'"),
    ("nats_tss", "|none~0|+|none~0|", "not a nats_tss arch"),
    ("nats_tss", "nor_conv_3x3~0", "malformed arch string"),
    ("nats_tss", "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "cannot take input from node 1"),
    ("nats_sss", "8:8:8:8", "expected 5 channel counts"),
    ("nats_sss", "8:8:8:8:12", "each one of 8, 16, 24, 32, 40, 48, 56, 64"),
    ("nats_sss", 32768, "valid 0..32767"),
])
def test_bad_archs_name_the_value_and_what_is_valid(space, arch, message):
    with pytest.raises((ArchStringError, ArchIndexError)) as err:
        gm.build_network(space, arch, "cifar10")
    assert message in str(err.value)


def test_unknown_space_and_dataset_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match="unknown space 'nats_xyz'; valid: .*nats_sss, nats_tss"):
        gm.build_network("nats_xyz", 0, "cifar10")
    with pytest.raises(UnknownNameError, match="ImageNet16-120, cifar10, cifar10-valid, cifar100"):
        gm.build_network("nats_tss", 0, "imagenet")


def test_arch_strings_round_trip_and_index_and_string_give_the_same_network():
    space = get_space("nats_tss")
    for index in np.random.default_rng(0).choice(space.size, 20, replace=False):
        text = space.arch_string(int(index))
        assert space.index_of(text) == index
        assert space.resolve(text) == space.resolve(int(index)) == space.resolve(str(index))
