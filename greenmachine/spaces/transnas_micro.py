"""TransNAS-Bench-101 micro (cell) space (Duan et al., CVPR 2021): 4,096 cells on the fixed `64-41414` skeleton.

An arch is six op codes `(a, b, c, d, e, f)` for the cell edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2
(the same edge order as NATS-Bench's TSS), each 0 = none, 1 = skip, 2 = ReLU-conv1x1-BN, 3 = ReLU-conv3x3-BN;
the benchmark writes it `64-41414-a_bc_def`. Index i is the six digits read as a base-4 number, `a` the most
significant.

The network, as the benchmark's `MacroNet` + `FFDecoder` build it for its classification tasks:
stem conv3x3/2 (3 -> 32), BN, ReLU-conv3x3/2-BN (32 -> 64); five layers of two cells each whose macro
codes 4, 1, 4, 1, 4 mean "halve the resolution and double the channels" (4) or "keep both" (1), so the widths
are 128, 128, 256, 256, 512 and the output is 1/32 of the input size; the first cell of a layer carries the
stride and channel change on its edges from node 0 (skip becomes a factorized reduction there). No BN or
ReLU follows the last cell: global average pooling and one linear layer make the logits. Convs are
Kaiming-normal (fan_out, relu) initialised and BatchNorms affine, as in the benchmark.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import torch
from torch import nn

from greenmachine.benchmark.base import Benchmark, check_complete
from greenmachine.datasets import DatasetInfo
from greenmachine.graph import edge_cell_features
from greenmachine.paths import data_dir
from greenmachine.spaces.base import Arch, SearchSpace, SpaceDataset
from greenmachine.spaces.cell import ArchStringError, Genotype, InferCell
from greenmachine.spaces.nats_tss import TSS_EDGES, tss_string
from greenmachine.spaces.ops import ReLUConvBN
from greenmachine.spaces.registry import builtin_space

MICRO_OPS: Final = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")  # op code -> our op name
MICRO_EDGES: Final = TSS_EDGES  # (source, target) per digit, in string order
NUM_EDGES: Final = len(MICRO_EDGES)
BASE_CHANNELS: Final = 64
MACRO_CODE: Final = "41414"
CELLS_PER_LAYER: Final = 2
BENCHMARK_PREFIX: Final = f"{BASE_CHANNELS}-{MACRO_CODE}-"

# Class counts of the benchmark's trained networks: its class_object/class_scene configs set target_dim 75 and 47,
# the labels of its "final5k" split (100 -> 75 object and 63 -> 47 scene classes, lib/data/*_final5k.npy).
# NASLib builds the same tasks with 100 and 63 logits (the pre-final5k selections), so its `params` differ.
TASK_CLASSES: Final = {"class_object": 75, "class_scene": 47}
NASLIB_CLASSES: Final = {"class_object": 100, "class_scene": 63}
RESOLUTION: Final = 256  # the benchmark's images
# The probe's resolution: a pass at 256x256 costs about 12x one at 64x64 (docs/spaces.md); the network
# is fully convolutional, so 64x64 noise reaches its last cells at 2x2. `probe.resolution=256` runs the full size.
PROBE_RESOLUTION: Final = 64
# The benchmark's input normalisation for both classification tasks (0..1 pixel scale).
TASKONOMY_MEAN: Final = (0.5224, 0.5222, 0.5221)
TASKONOMY_STD: Final = (0.2234, 0.2235, 0.2236)
EPOCHS: Final = 25
GROUND_TRUTH: Final = "transnas_micro/tnb101_micro_class_valacc.json.gz"

ZERO: Final = "#"
_EXAMPLE = "(3, 1, 2, 0, 3, 3)"
_FORMS = (
    f"expected the tuple form '(a, b, c, d, e, f)' (e.g. {_EXAMPLE!r}) or the benchmark's "
    f"'{BENCHMARK_PREFIX}a_bc_def' (e.g. '{BENCHMARK_PREFIX}3_12_033'): six op codes, 0 none, 1 skip, "
    "2 1x1 conv, 3 3x3 conv, of the edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2"
)


def _bad(arch: object, why: str) -> ArchStringError:
    return ArchStringError(f"{arch!r} is not a transnas_micro arch ({why}); {_FORMS}")


def _code(arch: object, text: str) -> int:
    """Return one op code written as `text`; raises ArchStringError naming it otherwise."""
    if len(text) != 1 or text not in "0123":
        raise _bad(arch, f"op code {text!r} is not one of 0, 1, 2, 3")
    return int(text)


def parse_arch(arch: str | Sequence[int]) -> tuple[int, ...]:
    """Return the six op codes of an arch given in tuple form, as a benchmark string, or as a sequence of ints.

    Raises:
        ArchStringError: the input is neither form, names another skeleton, or has a code outside 0..3.
    """
    if isinstance(arch, str):
        text = arch.strip()
        if text.startswith("(") and text.endswith(")"):
            parts = [p.strip() for p in text[1:-1].split(",")]
            if len(parts) != NUM_EDGES:
                raise _bad(arch, f"{len(parts)} op codes instead of {NUM_EDGES}")
            return tuple(_code(arch, p) for p in parts)
        fields = text.split("-")
        if len(fields) == 3:
            base, macro, cell = fields
            if base != str(BASE_CHANNELS) or macro != MACRO_CODE:
                raise _bad(arch, f"skeleton {base}-{macro} is not the micro space's {BASE_CHANNELS}-{MACRO_CODE}")
            groups = cell.split("_")
            if [len(g) for g in groups] != [1, 2, 3]:
                raise _bad(arch, f"cell code {cell!r} must be 'a_bc_def' (one, two and three codes)")
            return tuple(_code(arch, c) for c in "".join(groups))
        raise _bad(arch, "unrecognised form")
    if isinstance(arch, Sequence) and len(arch) == NUM_EDGES and all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 3 for c in arch):
        return tuple(int(c) for c in arch)
    raise _bad(arch, "not a string or six integer op codes")


def arch_tuple_string(codes: Sequence[int]) -> str:
    """Return the canonical string `(a, b, c, d, e, f)` of six op codes."""
    return "(" + ", ".join(str(c) for c in parse_arch(codes)) + ")"


def benchmark_string(arch: str | Sequence[int]) -> str:
    """Return the benchmark's encoder string `64-41414-a_bc_def` of an arch."""
    a, b, c, d, e, f = parse_arch(arch)
    return f"{BENCHMARK_PREFIX}{a}_{b}{c}_{d}{e}{f}"


def genotype(arch: str | Sequence[int]) -> Genotype:
    """Return the cell of an arch as a Genotype over our op names (`|nor_conv_3x3~0|+|...|`)."""
    return Genotype.parse(tss_string(tuple(MICRO_OPS[c] for c in parse_arch(arch))))


def is_connected(arch: str | Sequence[int]) -> bool:
    """Return True when some path of non-none ops leads from the cell input (node 0) to its output (node 3)."""
    return genotype(arch).is_connected()


def _cell_key(codes: tuple[int, ...], reduction: bool) -> str:
    """Return the canonical form of the cell's output as a sum of op applications (ZERO when it is zero).

    A node is a multiset of terms: a skip passes its input's terms on (so sums flatten), any other op
    wraps its input into one term `(input)@op`, `none` and inputs that are zero contribute nothing. In a
    reduction cell the skips leaving node 0 are parametrised factorized reductions, hence ordinary ops.
    """
    nodes: list[tuple[str, ...] | None] = [("0",)]  # None: the node is identically zero
    for target in (1, 2, 3):
        terms: list[str] = []
        for (src, dst), code in zip(MICRO_EDGES, codes, strict=True):
            if dst != target or code == 0 or nodes[src] is None:
                continue
            x = nodes[src]
            if code == 1 and not (reduction and src == 0):
                terms.extend(x)
            else:
                op = "skip_reduce" if code == 1 else MICRO_OPS[code]
                terms.append(f"({'+'.join(x)})@{op}")
        nodes.append(tuple(sorted(terms)) or None)
    out = nodes[-1]
    return ZERO if out is None else "+".join(out)


def unique_key(arch: str | Sequence[int]) -> str:
    """Return the isomorphism key of an arch: equal keys are the same network up to weights.

    Like NATS-Bench's `nats_unique_str` (sums are order-free, skips are identities, zero edges vanish) but
    exact: zero terms are dropped from sums, sums flatten, and since every cell of the network runs the same
    code the key pairs the normal cell with the reduction cell (where a skip from the input is a factorized
    reduction). Archs whose output is identically zero (a zero normal or reduction cell) share the key `#`.
    """
    codes = parse_arch(arch)
    normal, reduction = _cell_key(codes, False), _cell_key(codes, True)
    if ZERO in (normal, reduction):
        return ZERO
    return f"{normal} | {reduction}"


def naslib_canonical(arch: str | Sequence[int]) -> tuple[int, ...]:
    """Return the arch with dead edges zeroed, the rule behind the 2,128 archs of NASLib's TNB101 proxy table.

    gabikadlecova/zc_combine (`nb201_default_isomorphic_cell`): when all edges into node 1 or 2 are none, its
    outgoing edges become none; then when all edges out of node 2 or 1 are none, its incoming edges do. An arch
    is kept when this leaves it unchanged.
    """
    codes = list(parse_arch(arch))
    edge = {e: i for i, e in enumerate(MICRO_EDGES)}
    for node in (1, 2):
        if all(codes[edge[(s, node)]] == 0 for s in range(node)):
            for t in range(node + 1, 4):
                codes[edge[(node, t)]] = 0
    for node in (2, 1):
        if all(codes[edge[(node, t)]] == 0 for t in range(node + 1, 4)):
            for s in range(node):
                codes[edge[(s, node)]] = 0
    return tuple(codes)


class MicroStem(nn.Sequential):
    """conv3x3/2 (3 -> C/2, no bias), BN, then ReLU-conv3x3/2-BN (C/2 -> C): a quarter of the input size."""

    def __init__(self, channels: int = BASE_CHANNELS) -> None:
        half = channels // 2
        super().__init__(
            nn.Conv2d(3, half, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(half),
            ReLUConvBN(half, channels, 3, 2, 1),
        )


class TransNASMicroNetwork(nn.Module):
    """The benchmark's classification network of one cell: stem, 5 layers x 2 cells, global pooling, linear.

    Args:
        codes: the six op codes of the cell.
        num_classes: logits of the head.

    `forward` maps images [B, 3, H, W] to logits [B, num_classes]; any H, W work (each stride-2 step rounds up),
    1/32 of the input reaches the pooling. `cells` holds the ten cells in order, so feature-based proxies
    read the stem output and every cell output.
    """

    def __init__(self, codes: Sequence[int], num_classes: int) -> None:
        super().__init__()
        self.codes = parse_arch(codes)
        self.genotype = genotype(self.codes)
        self.stem = MicroStem(BASE_CHANNELS)
        self.cells = nn.ModuleList()
        c_prev = BASE_CHANNELS
        for layer in MACRO_CODE:
            # Macro code: even = double the channels, above 2 = stride 2 (the benchmark's 4 does both).
            c_out = 2 * c_prev if int(layer) % 2 == 0 else c_prev
            stride = 2 if int(layer) > 2 else 1
            for i in range(CELLS_PER_LAYER):
                self.cells.append(InferCell(self.genotype, c_prev if i == 0 else c_out, c_out, stride if i == 0 else 1))
            c_prev = c_out
        self.out_channels = c_prev
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        self._init_encoder()

    def _init_encoder(self) -> None:
        # The benchmark initialises its encoder (stem and cells) this way; the linear head keeps PyTorch's default.
        for m in itertools.chain(self.stem.modules(), self.cells.modules()):
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_pre_gap(self, x: torch.Tensor) -> torch.Tensor:
        """Return the last cell's output, the feature map that is pooled, shape [B, 512, H/32, W/32]."""
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.forward_pre_gap(x)).flatten(1))


def _task(name: str) -> SpaceDataset:
    info = DatasetInfo(name, TASK_CLASSES[name], PROBE_RESOLUTION, TASKONOMY_MEAN, TASKONOMY_STD)
    return SpaceDataset(name, "valid", EPOCHS, info)


@builtin_space
class TransNASMicro(SearchSpace):
    """TransNAS-Bench-101 micro space on its two classification tasks; index = the six codes in base 4."""

    name = "transnas_micro"
    size = 4 ** NUM_EDGES
    kind = "cell"
    datasets = (_task("class_scene"), _task("class_object"))
    ground_truth = GROUND_TRUTH
    isomorphic = True
    can_be_broken = True

    def load_benchmark(self, data: str | Path | None = None, allow_partial: bool = False) -> Benchmark:
        """Return the valid top-1 accuracy of every arch on both tasks (percent, 25 epochs)."""
        path = data_dir(data) / GROUND_TRUTH
        with gzip.open(path, "rt") as f:
            records = json.load(f)
        values = {}
        for task in self.dataset_names():
            array = np.full(self.size, np.nan)
            for arch, accuracy in records[task].items():
                array[self.index_of(arch)] = float(accuracy)
            values[(task, "valid", EPOCHS)] = array
        return check_complete(Benchmark(self.name, values, str(path)), allow_partial)

    def arch_string(self, index: int) -> str:
        """Return `(a, b, c, d, e, f)` of arch `index`."""
        self.check_index(index)
        digits = []
        for _ in range(NUM_EDGES):
            index, d = divmod(index, 4)
            digits.append(d)
        return arch_tuple_string(digits[::-1])

    def index_of(self, arch_str: str) -> int:
        """Return the index of an arch in tuple or benchmark form; raises ArchStringError if malformed."""
        index = 0
        for c in parse_arch(arch_str):
            index = index * 4 + c
        return index

    def unique_key(self, arch_str: str) -> str:
        """Return the isomorphism key of the network (see `unique_key`)."""
        return unique_key(arch_str)

    def is_connected(self, arch_str: str) -> bool:
        """Return whether the cell has a path of non-none ops from input to output."""
        return is_connected(arch_str)

    def graph_features(self, arch: Arch) -> dict[str, float]:
        """Return the graph features of the cell (ops on its 6 edges, kinds MICRO_OPS), not of the whole network.

        Every cell of the network runs the same code, so one cell describes them all; that a skip from the
        input of a reduction cell is a parametrised reduction is left out.
        """
        cell = genotype(self.resolve(arch)[1])
        return edge_cell_features(cell.edges(), len(cell.nodes) + 1, MICRO_OPS)

    def _build(self, arch_str: str, num_classes: int) -> nn.Module:
        return TransNASMicroNetwork(parse_arch(arch_str), num_classes)
