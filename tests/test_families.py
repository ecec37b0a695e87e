"""Proxies and statistics on networks that are not NATS cells: plain, residual and inverted-residual CNNs.

Each family varies width and depth; a proxy (or statistic) that is undefined, constant or tied over a
family cannot rank it. The families are defined here, not taken from a benchmark.
"""

from __future__ import annotations

import ast
import itertools
from importlib import import_module

import numpy as np
import pytest
import torch
from torch import nn

import greenmachine as gm
from greenmachine.commands import statistic_names
from greenmachine.proxies import DISCOVERED, NATS_CELLS, PROXIES, SHIPPED
from greenmachine.statistics import compute_statistics
from greenmachine.statistics.core import tagged

WIDTHS = (8, 16)
DEPTHS = (2, 4, 6)  # blocks after the stem; the widths double at a third and two thirds of them


def conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU()) if act else nn.Sequential(*layers)


class Head(nn.Module):
    def __init__(self, channels: int, classes: int = 10):
        super().__init__()
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean((2, 3)))


class Basic(nn.Module):
    """ResNet basic block: two 3x3 convolutions and an identity (or strided 1x1) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, stride=stride), conv_bn(cout, cout, act=False))
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else conv_bn(cin, cout, 1, stride, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class Inverted(nn.Module):
    """MobileNetV2 block: 1x1 expansion, 3x3 depthwise, linear 1x1 projection; residual when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int = 4):
        super().__init__()
        hidden = cin * expand
        self.body = nn.Sequential(conv_bn(cin, hidden, 1), conv_bn(hidden, hidden, 3, stride, groups=hidden),
                                  conv_bn(hidden, cout, 1, act=False))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


def network(family: str, width: int, depth: int) -> nn.Module:
    """Return a member of a family: a stem convolution, `depth` blocks in three stages, a linear head."""
    block = {"plain": lambda cin, cout, stride: conv_bn(cin, cout, stride=stride), "residual": Basic,
             "inverted_residual": Inverted}[family]
    torch.manual_seed(0)
    layers, channels = [conv_bn(3, width)], width
    for i in range(depth):
        stride = 2 if i > 0 and i in (depth // 3, 2 * depth // 3) else 1
        out = channels * stride
        layers.append(block(channels, out, stride))
        channels = out
    return nn.Sequential(*layers, Head(channels))


FAMILIES = ("plain", "residual", "inverted_residual")
MEMBERS = list(itertools.product(WIDTHS, DEPTHS))


def family_probe() -> gm.Probe:
    gen = torch.Generator().manual_seed(0)
    return gm.Probe(torch.randn(8, 3, 32, 32, generator=gen), torch.arange(8) % 10, "cifar10", "noise", 0)


@pytest.fixture(scope="module")
def discovered_scores() -> dict[str, dict[str, list[float]]]:
    """Return family -> discovered proxy -> its score of each member (through greenmachine.score)."""
    probe = family_probe()
    scores: dict[str, dict[str, list[float]]] = {}
    for family in FAMILIES:
        for width, depth in MEMBERS:
            for name, value in gm.score(network(family, width, depth), probe, proxies=list(DISCOVERED)).items():
                scores.setdefault(family, {}).setdefault(name, []).append(value)
    return scores


@pytest.mark.parametrize(("name", "family"), list(itertools.product(SHIPPED, FAMILIES)), ids="-".join)
def test_a_shipped_proxy_scores_every_member_of_a_family_finitely_and_differently(discovered_scores, name, family):
    scores = np.asarray(discovered_scores[family][name])
    assert np.isfinite(scores).all(), f"{name} on {family}: {scores}"
    assert len(np.unique(scores)) == len(MEMBERS), f"{name} ties on {family}: {scores}"


STATISTIC_NAMES = set(statistic_names("all"))


def _count_factors(expression: str) -> list[str]:
    """Return the factors of products and quotients in `expression` that read only graph counts and constants."""
    tree = ast.parse(expression, mode="eval")

    def names(node: ast.AST) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {"mask"}

    def only_counts(node: ast.AST) -> bool:
        read = names(node) & STATISTIC_NAMES
        return bool(read) and read <= set(tagged("graph_count"))

    return [ast.unparse(arg) for call in ast.walk(tree) if isinstance(call, ast.Call)
            and getattr(call.func, "id", "") in ("mul", "safe_div") for arg in call.args if only_counts(arg)]


def test_count_factors_are_found_in_products_and_quotients_only():
    assert _count_factors("mul(a, sub(merges, path_convs_min))") == ["sub(merges, path_convs_min)"]
    assert _count_factors("safe_div(synflow, log_paths)") == ["log_paths"]
    assert _count_factors("add(synflow, mul(const(0.5), merges))") == ["merges"]
    assert _count_factors("add(synflow, merges)") == []
    assert _count_factors("mul(sub(synflow, merges), zen)") == []  # mixed with a statistic of any network


@pytest.mark.parametrize("name", SHIPPED)
def test_no_shipped_proxy_multiplies_by_a_graph_count(name):
    expression = import_module(f"greenmachine.proxies.{name}").EXPRESSION
    assert _count_factors(expression) == [], f"{name} multiplies by {_count_factors(expression)}"


@pytest.mark.parametrize("name", NATS_CELLS)
def test_a_nats_cell_proxy_multiplies_by_a_graph_count_and_ties_on_a_family(discovered_scores, name):
    """Why NATS_CELLS are not shipped: each multiplies by a graph count and ties over some family (0 there)."""
    assert _count_factors(import_module(f"greenmachine.proxies.{name}").EXPRESSION)
    tied = [f for f in FAMILIES if len(np.unique(discovered_scores[f][name])) < len(MEMBERS)]
    assert tied, f"{name} ranks every family without ties: it could ship"


def test_every_statistic_but_the_graph_counts_is_finite_and_varies_on_every_family():
    probe = family_probe()
    names = [n for n in statistic_names("lean") if n not in tagged("graph_count")]
    options = PROXIES["gm_transfer"].options  # the shipped proxies' pass settings
    for family in FAMILIES:
        values: dict[str, list[tuple[float, ...]]] = {n: [] for n in names}
        for width, depth in MEMBERS:
            stats = compute_statistics(network(family, width, depth), probe, names, options)
            for n in names:
                v = np.atleast_1d(np.asarray(stats.layer[n] if n in stats.layer else stats.scalar[n], dtype=np.float64))
                assert np.isfinite(v).all(), f"{n} on {family} {width}x{depth}: {v}"
                values[n].append(tuple(v.tolist()))
        for n in names:
            assert len(set(values[n])) > 1, f"{n} is the same on every {family} network"


def test_the_graph_counts_are_what_makes_them_unfit_for_products():
    """merges and log_paths are 0 on every plain CNN: multiplying by them zeroes a proxy there."""
    probe = family_probe()
    for width, depth in MEMBERS[:2]:
        stats = compute_statistics(network("plain", width, depth), probe, ["merges", "log_paths"])
        assert stats.scalar["merges"] == 0.0 and stats.scalar["log_paths"] == 0.0
    assert set(tagged("graph_count")) == {"path_convs_max", "path_convs_min", "log_paths", "merges"}
