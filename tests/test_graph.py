"""Graph features: counts and paths of hand-checked archs on every space, and the cells against their networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from greenmachine.errors import GreenmachineError
from greenmachine.graph import (NETWORK_KINDS, OpGraph, chain_graph, graph_feature_table, network_features,
                                node_cell_graph, op_graph_features, op_groups)
from greenmachine.spaces import get_space, space_from_config

PLUGIN = f"{Path(__file__).resolve().parents[1] / 'experiments' / 'plugin_space' / 'tiny_cnn.py'}:TinyCNN"

# node 1 = conv3x3(x); node 2 = none(x) + skip(node 1); output = pool(x) + conv1x1(node 1) + none(node 2):
# the skip only reaches the output through a zero op, so it is dead; two live paths, pool alone and conv3 -> conv1.
TSS_MIXED = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
TSS_ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
TSS_BROKEN = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"


def test_tss_cell_with_a_dead_skip():
    f = get_space("nats_tss").graph_features(TSS_MIXED)
    assert [f[f"count.{k}"] for k in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "none")] == [1, 1, 1, 1, 2]
    assert [f[f"live.{k}"] for k in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")] == [0, 1, 1, 1]
    assert (f["paths"], f["min_path"], f["max_path"]) == (2, 1, 2)
    assert (f["min_on_path.nor_conv_3x3"], f["max_on_path.nor_conv_3x3"]) == (0, 1)
    assert f["only_path.avg_pool_3x3"] == 1 and f["only_path.nor_conv_1x1+nor_conv_3x3"] == 2
    assert f["only_path.nor_conv_3x3"] == 10  # no path of 3x3 convs alone: the node count, longer than any path
    assert (f["in_degree"], f["out_degree"], f["in_degree.avg_pool_3x3"], f["out_degree.nor_conv_3x3"]) == (2, 2, 1, 1)
    assert f["edge01.nor_conv_3x3"] == 1 and f["edge02.none"] == 1 and f["edge01.none"] == 0
    assert sum(v for k, v in f.items() if k.startswith("edge")) == 6  # one op per edge


def test_tss_all_conv_cell_and_a_broken_cell():
    f = get_space("nats_tss").graph_features(TSS_ALL_CONV3)
    assert (f["count.nor_conv_3x3"], f["live.nor_conv_3x3"], f["paths"]) == (6, 6, 4)
    assert (f["min_path"], f["max_path"], f["max_on_path.nor_conv_3x3"], f["only_path.nor_conv_3x3"]) == (1, 3, 3, 1)
    broken = get_space("nats_tss").graph_features(TSS_BROKEN)
    assert broken["count.nor_conv_3x3"] == 3 and broken["live.nor_conv_3x3"] == 0
    assert (broken["paths"], broken["max_path"], broken["in_degree"], broken["out_degree"]) == (0, 0, 0, 0)


def test_sss_features_are_the_widths():
    assert get_space("nats_sss").graph_features("8:16:32:48:64") == {
        "width.0": 8.0, "width.1": 16.0, "width.2": 32.0, "width.3": 48.0, "width.4": 64.0}


def test_transnas_micro_cell():
    # edges 1<-0 conv3, 2<-0 skip, 2<-1 conv1, 3<-0 none, 3<-1 conv3, 3<-2 conv3: three live paths
    f = get_space("transnas_micro").graph_features("(3, 1, 2, 0, 3, 3)")
    assert (f["count.nor_conv_3x3"], f["count.nor_conv_1x1"], f["count.skip_connect"], f["count.none"]) == (3, 1, 1, 1)
    assert (f["paths"], f["min_path"], f["max_path"]) == (3, 2, 3)
    assert (f["min_on_path.nor_conv_3x3"], f["max_on_path.nor_conv_3x3"], f["only_path.nor_conv_3x3"]) == (1, 2, 2)
    assert "count.avg_pool_3x3" not in f and f["edge03.none"] == 1


def test_nas_bench_macro_chain():
    # stages 01 | 120 | 212: four inverted residual blocks keep their shape and are bypassed, so 2^4 paths
    f = get_space("nas_bench_macro").graph_features("01120212")
    assert [f[f"count.{k}"] for k in ("skip", "downsample", "mb_e3_k3", "mb_e6_k5")] == [1, 1, 3, 3]
    assert (f["paths"], f["min_path"], f["max_path"]) == (16, 4, 8)
    assert (f["stage0.downsample"], f["stage1.skip"], f["stage2.mb_e6_k5"]) == (1, 1, 2)
    assert f["layer0.downsample"] == 1 and f["layer4.skip"] == 1 and f["layer7.mb_e6_k5"] == 1
    # a key with its identity moved inside the stage is the same network, so the same features
    assert get_space("nas_bench_macro").graph_features("01102212") == f


def test_nasbench101_cell():
    # arch 0: input -> {maxpool, maxpool, conv3, conv3, output}, conv3 -> conv3, both pools and the second conv -> output
    space = get_space("nasbench101")
    f = space.graph_features(0)
    assert (f["count.maxpool3x3"], f["count.conv3x3-bn-relu"], f["count.conv1x1-bn-relu"]) == (2, 2, 0)
    assert (f["paths"], f["min_path"], f["max_path"], f["max_on_path.conv3x3-bn-relu"]) == (5, 0, 2, 2)
    assert (f["in_degree"], f["out_degree"]) == (4, 5)
    assert f["only_path.maxpool3x3"] == 0  # the direct input -> output edge is a path without ops


def test_cells_agree_with_the_autograd_graph_of_their_networks():
    """An independent check: 15 cells, the stem, two reductions and the head, read from the real TSS network."""
    space = get_space("nats_tss")
    for arch in (13281, 258, 9946, 10146, TSS_MIXED):
        cell = space.graph_features(arch)
        net = network_features(space.build(arch, "cifar10"), (3, 32, 32))
        # the stem and each reduction's two 3x3 convs; each reduction's 1x1 shortcut; its avg pool and the global one
        assert net["live.conv"] == 15 * cell["live.nor_conv_3x3"] + 5
        assert net["live.conv1x1"] == 15 * cell["live.nor_conv_1x1"] + 2
        assert net["live.pool"] == 15 * cell["live.avg_pool_3x3"] + 3
        assert net["paths"] == cell["paths"] ** 15 * 2 ** 2  # each reduction: its residual branch and its shortcut


def test_network_features_of_a_plugin_style_network():
    # stem conv, then two residual blocks of two 3x3 convs each (identity shortcuts), pooling and a linear head
    def block(c):
        return torch.nn.Sequential(torch.nn.Conv2d(c, c, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(c, c, 3, padding=1))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.blocks = torch.nn.Conv2d(3, 8, 1), torch.nn.ModuleList([block(8), block(8)])
            self.head = torch.nn.Linear(8, 10)

        def forward(self, x):
            x = self.stem(x)
            for b in self.blocks:
                x = x + b(x)
            return self.head(x.mean((2, 3)))

    f = network_features(Net(), (3, 16, 16))
    assert set(k.split(".")[1] for k in f if k.startswith("count.") and k != "count.none") == set(NETWORK_KINDS)
    assert (f["count.conv1x1"], f["count.conv"], f["count.act"], f["count.linear"], f["count.pool"]) == (1, 4, 2, 1, 1)
    assert (f["paths"], f["min_path"], f["max_path"]) == (4, 3, 9)


def test_plugin_space_falls_back_to_the_network():
    space = space_from_config({"_target_": PLUGIN})
    table = graph_feature_table(space, ["plain-8-1", "residual-8-1", "residual-8-2"])
    assert table["paths"].tolist()[0] == 1 and table["paths"][1] > 1  # residual blocks add paths
    assert table["count.conv"][2] > table["count.conv"][1]  # two blocks per stage, not one


def test_bad_graphs_and_unknown_ops_are_named():
    with pytest.raises(GreenmachineError, match="needs `input` first"):
        OpGraph(("conv", "output"), ((0, 1),))
    with pytest.raises(GreenmachineError, match="must go forwards"):
        OpGraph(("input", "conv", "output"), ((1, 0),))
    with pytest.raises(GreenmachineError, match=r"ops \['mystery'\] are not among the kinds"):
        op_graph_features(chain_graph([("mystery", False)]), ["conv"])
    assert list(op_groups(["a", "b", "c"], subsets=True)) == ["a", "b", "c", "a+b", "a+c", "b+c"]
    g = node_cell_graph([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv", "output"])
    assert op_graph_features(g, ["conv"])["max_on_path.conv"] == 1


def test_every_arch_of_a_space_shares_its_feature_names():
    for name, archs in (("nats_tss", range(0, 15625, 997)), ("transnas_micro", range(0, 4096, 301)),
                        ("nas_bench_macro", range(0, 3969, 397)), ("nasbench101", range(0, 500, 61))):
        table = graph_feature_table(get_space(name), list(archs))
        assert all(np.isfinite(v).all() for v in table.values()), name
