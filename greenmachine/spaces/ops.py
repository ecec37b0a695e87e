"""The NATS-Bench cell operations and reduction block, written from their published definitions.

Every op takes (C_in, C_out, stride). BatchNorms are affine with running statistics, so no conv
has a bias, exactly as in the benchmark's networks. No activation is in-place, so full backward
hooks work.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from greenmachine.registry import Registry

OPS: Registry[Callable[[int, int, int], nn.Module]] = Registry("operation")


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(k x k, no bias) -> BatchNorm."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The `none` op: zeros shaped like the op's output, still attached to the graph when it can be."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.c_in == self.c_out:
            return x.mul(0.0) if self.stride == 1 else x[:, :, :: self.stride, :: self.stride].mul(0.0)
        shape = list(x.shape)
        shape[1] = self.c_out
        if self.stride > 1:
            shape[2] = (shape[2] + self.stride - 1) // self.stride
            shape[3] = (shape[3] + self.stride - 1) // self.stride
        return x.new_zeros(shape)


class FactorizedReduce(nn.Module):
    """skip_connect when shapes change: 1x1 conv + BN (stride 1), or ReLU + two shifted 1x1 convs (stride 2)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.stride = stride
        if stride == 1:
            self.conv = nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False)
        elif stride == 2:
            self.relu = nn.ReLU(inplace=False)
            halves = (c_out // 2, c_out - c_out // 2)
            self.convs = nn.ModuleList(nn.Conv2d(c_in, h, 1, stride=2, padding=0, bias=False) for h in halves)
            self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0.0)
        else:
            raise ValueError(f"FactorizedReduce supports stride 1 or 2, not {stride}")
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return self.bn(self.conv(x))
        x = self.relu(x)
        shifted = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))


class AvgPool(nn.Module):
    """avg_pool_3x3: an optional ReLUConvBN 1x1 when channels change, then 3x3 average pooling."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.preprocess = ReLUConvBN(c_in, c_out, 1, 1, 0) if c_in != c_out else None
        self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.pool(x)


class ResNetBasicBlock(nn.Module):
    """The NATS reduction block: two ReLUConvBN 3x3 plus an avg-pool + 1x1 conv shortcut, no final ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        if stride != 2:
            raise ValueError(f"the NATS reduction block has stride 2, not {stride}")
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False),
        )
        self.out_channels = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


@OPS.register("none")
def _none(c_in: int, c_out: int, stride: int) -> nn.Module:
    return Zero(c_in, c_out, stride)


@OPS.register("skip_connect")
def _skip(c_in: int, c_out: int, stride: int) -> nn.Module:
    return nn.Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, stride)


@OPS.register("nor_conv_1x1")
def _conv1x1(c_in: int, c_out: int, stride: int) -> nn.Module:
    return ReLUConvBN(c_in, c_out, 1, stride, 0)


@OPS.register("nor_conv_3x3")
def _conv3x3(c_in: int, c_out: int, stride: int) -> nn.Module:
    return ReLUConvBN(c_in, c_out, 3, stride, 1)


@OPS.register("avg_pool_3x3")
def _avg_pool(c_in: int, c_out: int, stride: int) -> nn.Module:
    return AvgPool(c_in, c_out, stride)
