"""The NATS macro network shared by both spaces: stem, cells and reduction blocks, BN-ReLU, GAP, linear head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from greenmachine.spaces.cell import Genotype, InferCell
from greenmachine.spaces.ops import ResNetBasicBlock


class NatsNetwork(nn.Module):
    """A stack of cells (`("cell", C)`) and stride-2 reductions (`("reduce", C)`) between a stem and a head.

    Args:
        genotype: the cell every `"cell"` block runs.
        stem_channels: output channels of the 3x3 stem conv.
        blocks: the body, in order; each block maps the previous block's channels to its own C.
        num_classes: logits of the head.

    `forward` returns the logits, shape [B, num_classes]. `cells` holds the body blocks, so
    feature-based proxies can read the stem output and every block output.
    """

    def __init__(self, genotype: Genotype, stem_channels: int, blocks: Sequence[tuple[str, int]], num_classes: int):
        super().__init__()
        self.genotype = genotype
        self.stem = nn.Sequential(nn.Conv2d(3, stem_channels, 3, padding=1, bias=False), nn.BatchNorm2d(stem_channels))
        self.cells = nn.ModuleList()
        c_prev = stem_channels
        for kind, c in blocks:
            block = ResNetBasicBlock(c_prev, c, 2) if kind == "reduce" else InferCell(genotype, c_prev, c, 1)
            self.cells.append(block)
            c_prev = c
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward_pre_gap(self, x: torch.Tensor) -> torch.Tensor:
        """Return the feature map after the final BN + ReLU, shape [B, C, H, W]."""
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.lastact(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.forward_pre_gap(x)).flatten(1))
