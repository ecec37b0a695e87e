"""NAS-Bench-Macro (Su et al., CVPR 2021): 8 MobileNetV2-style layers, 3 choices each, 3,969 distinct networks.

A key is 8 digits, one per layer: 0 = identity, 1 = inverted residual (expand 3, 3x3 depthwise),
2 = inverted residual (expand 6, 5x5 depthwise). The layers form three stages of 2, 3 and 3 layers;
the first layer of a stage halves the resolution and doubles the channels (32 -> 64 -> 128 -> 256), so
there an "identity" is a strided 1x1 conv + BN. The other identities are true no-ops, so where they sit
inside a stage does not change the network: the benchmark files every key under the network with those
identities moved to the end of their stage (the canonical key), 6,561 keys for 3,969 networks.
"""

from __future__ import annotations

import gzip
import itertools
import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from greenmachine.errors import GreenmachineError
from greenmachine.graph import chain_graph, op_graph_features, position_features
from greenmachine.paths import data_dir
from greenmachine.spaces.base import Arch, SearchSpace, SpaceDataset
from greenmachine.spaces.cell import ArchStringError
from greenmachine.spaces.registry import builtin_space

if TYPE_CHECKING:  # the benchmark package imports the spaces package
    from greenmachine.benchmark.base import Benchmark

STAGES = (2, 3, 3)  # layers per stage
NUM_LAYERS = sum(STAGES)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
IDENTITY = "0"
# digit -> (expansion ratio, depthwise kernel size) of the inverted residual block
BLOCKS = {"1": (3, 3), "2": (6, 5)}
DIGITS = IDENTITY + "".join(BLOCKS)
_EXAMPLE_KEY = "01120212"
RECORDS_FILE = "nas_bench_macro/nas-bench-macro_cifar10.json.gz"
# The op kind of each layer choice in the graph features: a stage's first identity is a strided 1x1 conv.
LAYER_KINDS = {"1": "mb_e3_k3", "2": "mb_e6_k5"}
GRAPH_KINDS = ("skip", "downsample", *LAYER_KINDS.values())
EPOCHS = 50  # each record's test_acc is the best test accuracy over 50 epochs of training


def _check_key(key: object) -> str:
    """Return `key` if it is a well-formed NAS-Bench-Macro key; raises ArchStringError naming it otherwise."""
    if not isinstance(key, str) or len(key) != NUM_LAYERS or any(c not in DIGITS for c in key):
        raise ArchStringError(
            f"{key!r} is not a nas_bench_macro arch: expected {NUM_LAYERS} digits, each 0 (identity), "
            f"1 (MBConv expand 3, 3x3) or 2 (MBConv expand 6, 5x5), e.g. {_EXAMPLE_KEY!r}"
        )
    return key


def _stages(key: str) -> list[str]:
    """Return the digits of `key` split into its stages."""
    out, start = [], 0
    for n in STAGES:
        out.append(key[start:start + n])
        start += n
    return out


def canonical_key(key: str) -> str:
    """Return the benchmark's key of the network `key` denotes: non-first identities moved to the end of their stage.

    The first layer of a stage is never moved: there an identity is the downsampling 1x1 conv. The order of
    the blocks that are not identities is kept.

    Raises:
        ArchStringError: `key` is not 8 digits each in 0/1/2.
    """
    parts = []
    for stage in _stages(_check_key(key)):
        rest = stage[1:]
        blocks = rest.replace(IDENTITY, "")
        parts.append(stage[0] + blocks + IDENTITY * (len(rest) - len(blocks)))
    return "".join(parts)


def _stage_variants(stage: str) -> list[str]:
    """Return every stage string with the same first digit and blocks, the identities anywhere after the first."""
    first, rest = stage[0], stage[1:]
    blocks = rest.replace(IDENTITY, "")
    variants = []
    for slots in itertools.combinations(range(len(rest)), len(blocks)):  # where the blocks go, in order
        digits = [IDENTITY] * len(rest)
        for slot, block in zip(slots, blocks, strict=True):
            digits[slot] = block
        variants.append(first + "".join(digits))
    return variants


def _all_keys() -> list[str]:
    """Return all 3^8 keys, ascending."""
    return ["".join(d) for d in itertools.product(DIGITS, repeat=NUM_LAYERS)]


class Downsample(nn.Module):
    """The identity choice at a stage's first layer: a strided 1x1 conv + BN to the stage's width (no activation)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the projected input."""
        return self.bn(self.conv(x))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, BN, ReLU; kxk depthwise (carries the stride), BN, ReLU; 1x1 project, BN.

    The input is added back when shape is kept (stride 1, same width). ReLU, not ReLU6, as in the benchmark.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int, kernel: int) -> None:
        super().__init__()
        hidden = c_in * expand  # the expansion is of the block's input width
        self.body = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=False),  # not in place: full backward hooks need the activation inputs intact
            nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=False),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the block output, plus the input when the shape is kept."""
        out = self.body(x)
        return out + x if self.residual else out


def make_layer(digit: str, c_in: int, c_out: int, stride: int) -> nn.Module:
    """Return the module of one layer choice; an identity that keeps the shape is nn.Identity (no parameters)."""
    if digit == IDENTITY:
        return nn.Identity() if stride == 1 and c_in == c_out else Downsample(c_in, c_out, stride)
    expand, kernel = BLOCKS[digit]
    return InvertedResidual(c_in, c_out, stride, expand, kernel)


class MacroNetwork(nn.Module):
    """Stem 3x3 conv (stride 1) to 32, BN, ReLU; 8 layers in stages 2/3/3; 1x1 conv to 1280, BN, ReLU; pool; linear.

    Forward maps images [B, 3, H, W] to logits [B, num_classes]; `layers` holds the 8 layers in key order
    (nn.Identity for a no-op identity). All convs are bias-free; only the linear
    classifier has a bias. BatchNorm uses PyTorch defaults (eps 1e-5, momentum 0.1, affine).
    """

    def __init__(self, key: str, num_classes: int = 10) -> None:
        super().__init__()
        _check_key(key)
        self.key = key
        self.stem = nn.Sequential(
            nn.Conv2d(3, STEM_CHANNELS, 3, padding=1, bias=False),
            nn.BatchNorm2d(STEM_CHANNELS),
            nn.ReLU(inplace=False),
        )
        layers, width = [], STEM_CHANNELS
        for stage in _stages(key):
            for position, digit in enumerate(stage):
                # The stage's first layer halves the resolution and doubles the width.
                stride, c_out = (2, 2 * width) if position == 0 else (1, width)
                layers.append(make_layer(digit, width, c_out, stride))
                width = c_out
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Conv2d(width, HEAD_CHANNELS, 1, bias=False),
            nn.BatchNorm2d(HEAD_CHANNELS),
            nn.ReLU(inplace=False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits [B, num_classes] of images [B, 3, H, W]."""
        return self.classifier(self.head(self.layers(self.stem(x))))


@builtin_space
class NasBenchMacro(SearchSpace):
    """NAS-Bench-Macro: index i is the i-th distinct canonical key in ascending string order; any key resolves."""

    name = "nas_bench_macro"
    size = 3969
    kind = "macro"
    datasets = (SpaceDataset("cifar10", "test", EPOCHS),)
    ground_truth = RECORDS_FILE
    # Indices are already one per network (duplicate keys are folded into their canonical key), so the
    # sampling filter for isomorphic archs has nothing left to remove.
    isomorphic = False

    @cached_property
    def _archs(self) -> list[str]:
        # A key is canonical exactly when canonicalising leaves it unchanged.
        archs = [k for k in _all_keys() if canonical_key(k) == k]
        assert len(archs) == self.size
        return archs

    @cached_property
    def _index(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self._archs)}

    def arch_string(self, index: int) -> str:
        """Return the canonical key of arch `index`."""
        return self._archs[self.check_index(index)]

    def index_of(self, arch_str: str) -> int:
        """Return the index of the network of any of the 6,561 keys; raises ArchStringError if malformed."""
        return self._index[canonical_key(arch_str)]

    def keys_of(self, index: int) -> list[str]:
        """Return every key that denotes network `index`: its canonical key first, then the others ascending."""
        canonical = self.arch_string(index)
        keys = ["".join(p) for p in itertools.product(*(_stage_variants(s) for s in _stages(canonical)))]
        return [canonical] + sorted(k for k in keys if k != canonical)

    def unique_key(self, arch_str: str) -> str:
        """Return the canonical key of any key: equal for exactly the keys that are the same network."""
        return canonical_key(arch_str)

    def records(self, data: str | Path | None = None) -> dict[str, dict]:
        """Return the benchmark file's record of each of the 6,561 keys: test_acc, mean_acc, std, params, flops."""
        path = data_dir(data) / RECORDS_FILE
        with gzip.open(path, "rt") as f:
            records = json.load(f)
        if len(records) != len(DIGITS) ** NUM_LAYERS:
            raise GreenmachineError(f"{path} holds {len(records)} keys, expected {len(DIGITS) ** NUM_LAYERS}")
        return records

    def load_benchmark(self, data: str | Path | None = None, allow_partial: bool = False) -> Benchmark:
        """Return the mean test accuracy over the 3 training seeds of each network (cifar10, test, 50 epochs)."""
        from greenmachine.benchmark.base import Benchmark

        records = self.records(data)
        accuracy = np.array([float(records[k]["mean_acc"]) for k in self._archs], dtype=np.float64)
        return Benchmark(self.name, {("cifar10", "test", EPOCHS): accuracy}, str(data_dir(data) / RECORDS_FILE))

    def resolve(self, arch: Arch) -> tuple[int, str]:
        """Return (index, canonical key) of an index or any key.

        Keys are all digits, so unlike the base class an 8-character string is read as a key, never as an
        index (no index has 8 digits); other digit strings are indices.
        """
        if isinstance(arch, str) and len(arch) == NUM_LAYERS:
            index = self.index_of(arch)
            return index, self.arch_string(index)
        return super().resolve(arch)

    def graph_features(self, arch: Arch) -> dict[str, float]:
        """Return the graph features of the chain of 8 layers (kinds GRAPH_KINDS), each kind's count per stage and
        the kind of each layer one-hot.

        An inverted residual block inside a stage is bypassed by its residual connection, so the chain has
        2^(such blocks) paths; the fixed stem and head are left out. `stage<s>.<kind>` counts kind in stage s,
        `layer<i>.<kind>` is 1 where layer i (0..7, of the canonical key) is of that kind.
        """
        blocks = []
        for s, stage in enumerate(_stages(canonical_key(self.resolve(arch)[1]))):
            for position, digit in enumerate(stage):
                kind = LAYER_KINDS.get(digit, "downsample" if position == 0 else "skip")
                blocks.append((s, kind, digit != IDENTITY and position > 0))
        graph = chain_graph([(kind, residual) for _, kind, residual in blocks])
        features = op_graph_features(graph, GRAPH_KINDS, subsets=True)
        for s in range(len(STAGES)):
            for kind in GRAPH_KINDS:
                features[f"stage{s}.{kind}"] = float(sum(1 for t, k, _ in blocks if t == s and k == kind))
        features.update(position_features([(f"layer{i}", kind) for i, (_, kind, _) in enumerate(blocks)], GRAPH_KINDS))
        return features

    def _build(self, arch_str: str, num_classes: int) -> nn.Module:
        return MacroNetwork(canonical_key(arch_str), num_classes)
