"""A tiny fixed CNN and probe whose statistics the tests recompute by independent routes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from greenmachine.data.probe import Probe


class TinyNet(nn.Module):
    """conv3x3(3->4) - BN - ReLU - conv1x1(4->4) - BN - ReLU - GAP - Linear(4->3)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 3)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


@pytest.fixture
def tiny_net() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


@pytest.fixture
def tiny_probe() -> Probe:
    gen = torch.Generator().manual_seed(1)
    return Probe(torch.randn(8, 3, 6, 6, generator=gen), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]), "cifar10", "noise", 3)
