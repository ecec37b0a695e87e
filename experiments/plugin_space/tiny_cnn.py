"""A search space of small CNNs, plugged into greenmachine from outside the package (the worked example).

Eighteen networks: plain or residual, base width 4, 8 or 16, and 1, 2 or 3 blocks per stage in
two stages (the second at stride 2 and twice the width). Their accuracies (`accuracies.csv`) were
measured by `train_tiny_cnn.py` in this folder: trained on 400 CIFAR-10 test images, tested on
100 others, mean of two seeds; a small, honest ground truth for a demonstration, not a benchmark.

Use it without installing anything:

    greenmachine evaluate space=plugin space._target_=experiments/plugin_space/tiny_cnn.py:TinyCNN archs=all

The contract greenmachine needs is the four attributes of `TinyCNN`: `name`, `archs`,
`build(arch, dataset)` and `accuracies` (a CSV in the compact long format, read next to this file).
"""

from __future__ import annotations

import torch
from torch import nn

KINDS = ("plain", "residual")
WIDTHS = (4, 8, 16)
DEPTHS = (1, 2, 3)


class Block(nn.Module):
    """Two 3x3 conv-BN layers with a ReLU between and after; `residual` adds the input (1x1 conv when shapes change)."""

    def __init__(self, c_in: int, c_out: int, stride: int, residual: bool):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = None
        if residual:
            self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return self.act(y + self.shortcut(x) if self.shortcut is not None else y)


def network(arch: str, num_classes: int = 10) -> nn.Module:
    """Return the untrained network of an arch string `kind-width-depth`, e.g. `residual-16-2`."""
    kind, width, depth = arch.split("-")
    width, depth, residual = int(width), int(depth), kind == "residual"
    layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    c = width
    for stage in range(2):
        for block in range(depth):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(Block(c, width * 2 ** stage, stride, residual))
            c = width * 2 ** stage
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)]
    return nn.Sequential(*layers)


class TinyCNN:
    """The plug-in: what greenmachine needs to search, score and rank this space."""

    name = "tiny_cnn"
    archs = [f"{k}-{w}-{d}" for k in KINDS for w in WIDTHS for d in DEPTHS]
    accuracies = "accuracies.csv"

    def build(self, arch: str, dataset: str) -> nn.Module:
        """Return the untrained network of `arch` with a 10-class head (the space has one dataset, cifar10)."""
        return network(arch, 10)
