"""NAS-Bench-101 (Ying et al., ICML 2019): cells of up to 7 vertices on a fixed 3-stack skeleton.

A cell is a DAG given by an upper-triangular 7x7 adjacency matrix and one op per vertex: vertex 0 is
the input, vertex 6 the output, the five in between are 3x3 max pool, 1x1 conv-BN-ReLU or 3x3
conv-BN-ReLU. Vertices that are not on some input -> output path do nothing and are removed before
the network is built (NAS-Bench-101's pruning), so many matrices give one network.

greenmachine's space is the 500-arch NAS-Bench-Suite-Zero sample of NASLib
(`nasbench101/zc_nasbench101_naslib_500.json.gz`). An arch string is a key of that file: the 56-tuple
of the 49 matrix entries (row-major) followed by the 7 op indices into `NB101_OPS`, spelt as Python
prints a tuple, e.g. `(0, 1, 0, ..., 0, 0, 2, 4, 3, 3, 2, 1)`. Every key has 7 vertices; a cell with
fewer real ones carries the rest off every input -> output path (with or without edges, any op), so
pruning removes them: 499 of the 500 keys prune to a smaller matrix, 55 to input -> output alone.
(NASLib's own padding of a pruned n-vertex spec, edgeless conv3x3 vertices before the output, is
pruned the same way.)

The network follows NAS-Bench-101's model builder as ported to PyTorch by the `nasbench_pytorch`
package that NASLib builds (which NASLib's `params`, `flops` and proxies were computed on): stem 3x3
conv to 128 + BN + ReLU; 3 stacks of 3 cells; a 2x2 max pool halves the resolution and the cells
double the channels at the start of stacks 2 and 3; global average pool; linear head.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import nn

from greenmachine.benchmark.base import Benchmark
from greenmachine.errors import GreenmachineError
from greenmachine.graph import node_cell_graph, op_graph_features
from greenmachine.paths import data_dir
from greenmachine.spaces.base import Arch, SearchSpace, SpaceDataset
from greenmachine.spaces.cell import ArchStringError
from greenmachine.spaces.registry import builtin_space

NB101_OPS = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
INPUT, OUTPUT = 0, 1
INTERIOR_OPS = (2, 3, 4)  # the op indices an interior vertex may carry
NUM_VERTICES = 7
MAX_EDGES = 9  # NAS-Bench-101's limit on the edges of a pruned cell
TUPLE_LENGTH = NUM_VERTICES * NUM_VERTICES + NUM_VERTICES

STEM_CHANNELS = 128
NUM_STACKS = 3
CELLS_PER_STACK = 3

SAMPLE_FILE = "nasbench101/zc_nasbench101_naslib_500.json.gz"
_OP_CHOICES = ", ".join(f"{i} = {name}" for i, name in enumerate(NB101_OPS))


# ------------------------------------------------------------------ arch strings and specs


@dataclass(frozen=True)
class Nb101Spec:
    """A pruned NAS-Bench-101 cell: every vertex lies on an input -> output path.

    Attributes:
        matrix: the n x n upper-triangular adjacency matrix (row = source, column = target), 2 <= n <= 7.
        ops: the n op names (`NB101_OPS`), `input` first and `output` last.
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        """Return the number of vertices, input and output included."""
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        """Return the number of edges."""
        return sum(map(sum, self.matrix))

    def vertex_channels(self, c_in: int, c_out: int) -> list[int]:
        """Return the output channels of every vertex of this cell for a cell mapping `c_in` to `c_out` channels.

        The output concatenates the vertices that feed it, so they split `c_out` as evenly as possible,
        the lower-numbered ones taking one extra channel while a remainder is left. Every other interior
        vertex gets the largest width among the interior vertices it feeds, so widths never grow along an
        edge (a wider input is cut down to the first channels of the narrower vertex).
        """
        n, m = self.num_vertices, self.matrix
        channels = [0] * n
        channels[0], channels[-1] = c_in, c_out
        if n == 2:  # input straight to output: the output is a projection of the input
            return channels
        feeders = [v for v in range(1, n - 1) if m[v][n - 1]]
        base, extra = divmod(c_out, len(feeders))
        for rank, v in enumerate(feeders):
            channels[v] = base + (rank < extra)
        for v in range(n - 2, 0, -1):  # backwards, so every successor is already set
            if not m[v][n - 1]:
                channels[v] = max(channels[w] for w in range(v + 1, n - 1) if m[v][w])
        return channels


def _malformed(text: object, why: str) -> ArchStringError:
    return ArchStringError(
        f"{text!r} is not a nasbench101 arch: {why}. An arch is the 56-tuple of a 7x7 upper-triangular 0/1 "
        f"adjacency matrix (49 entries, row-major) then 7 op indices ({_OP_CHOICES}), input first and output "
        f"last, written like the keys of {SAMPLE_FILE}"
    )


def parse_tuple(text: str) -> tuple[int, ...]:
    """Return the 56 integers of an arch string after checking its form; raises ArchStringError naming the fault.

    Only the shape of the tuple and the range of each entry are checked here; `parse_spec` checks the graph.
    """
    if not isinstance(text, str):
        raise _malformed(text, f"it must be a string, not {type(text).__name__}")
    body = text.strip()
    if not (body.startswith("(") and body.endswith(")")):
        raise _malformed(text, "it must be a parenthesised, comma-separated tuple")
    parts = [p.strip() for p in body[1:-1].split(",")]
    if parts and parts[-1] == "":  # tolerate a trailing comma
        parts.pop()
    bad = [p for p in parts if not p.isdigit()]
    if bad:
        raise _malformed(text, f"entry {bad[0]!r} is not a non-negative integer")
    if len(parts) != TUPLE_LENGTH:
        raise _malformed(text, f"it has {len(parts)} entries, expected {TUPLE_LENGTH}")
    values = tuple(int(p) for p in parts)
    for k, value in enumerate(values[: NUM_VERTICES * NUM_VERTICES]):
        row, col = divmod(k, NUM_VERTICES)
        if value not in (0, 1):
            raise _malformed(text, f"matrix entry ({row}, {col}) is {value}; matrix entries must be 0 or 1")
        if value and col <= row:
            raise _malformed(text, f"matrix entry ({row}, {col}) is 1 on or below the diagonal; the matrix must be "
                                   "strictly upper triangular (edges go from lower to higher vertices)")
    ops = values[NUM_VERTICES * NUM_VERTICES:]
    for v, op in enumerate(ops):
        if op >= len(NB101_OPS):
            raise _malformed(text, f"op index {op} of vertex {v} is out of range; valid: {_OP_CHOICES}")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise _malformed(text, f"the first op must be {INPUT} (input) and the last {OUTPUT} (output), got "
                               f"{ops[0]} and {ops[-1]}")
    for v, op in enumerate(ops[1:-1], start=1):
        if op not in INTERIOR_OPS:
            raise _malformed(text, f"vertex {v} has op {op} ({NB101_OPS[op]}); interior vertices take "
                                   + ", ".join(f"{i} ({NB101_OPS[i]})" for i in INTERIOR_OPS))
    return values


def canonical_string(values: tuple[int, ...]) -> str:
    """Return the arch string of 56 integers, spelt as the benchmark file's keys are."""
    return "(" + ", ".join(map(str, values)) + ")"


def prune(matrix: tuple[tuple[int, ...], ...], ops: tuple[str, ...]) -> Nb101Spec | None:
    """Return the cell without the vertices that are not on an input -> output path; None if there is no such path.

    The kept vertices keep their order, as NAS-Bench-101's pruning keeps them.
    """
    n = len(ops)
    from_input, to_output = {0}, {n - 1}
    for v in range(1, n):  # edges go forwards, so one pass in vertex order finds everything reachable
        if any(matrix[u][v] for u in from_input):
            from_input.add(v)
    for v in range(n - 2, -1, -1):
        if any(matrix[v][w] for w in to_output):
            to_output.add(v)
    if n - 1 not in from_input:
        return None
    keep = sorted(from_input & to_output)
    return Nb101Spec(tuple(tuple(matrix[u][v] for v in keep) for u in keep), tuple(ops[v] for v in keep))


def parse_spec(text: str) -> Nb101Spec:
    """Return the pruned cell of an arch string; raises ArchStringError if it is malformed or not a NAS-Bench-101 cell.

    A NAS-Bench-101 cell has a path from input to output and, after pruning, at most 9 edges.
    """
    values = parse_tuple(text)
    n = NUM_VERTICES
    matrix = tuple(tuple(values[r * n:(r + 1) * n]) for r in range(n))
    spec = prune(matrix, tuple(NB101_OPS[i] for i in values[n * n:]))
    if spec is None:
        raise _malformed(text, "no path leads from the input (vertex 0) to the output (vertex 6)")
    if spec.num_edges > MAX_EDGES:
        raise _malformed(text, f"after pruning it has {spec.num_edges} edges; NAS-Bench-101 cells have at most "
                               f"{MAX_EDGES}")
    return spec


def spec_hash(spec: Nb101Spec | str) -> str:
    """Return the isomorphism key of a cell (an arch string or a pruned spec): equal keys, the same graph.

    The key is the MD5 of the smallest encoding (ops, then adjacency) over all orderings of the interior
    vertices, so it is exact: two cells share it exactly when some relabelling of their interior
    vertices maps one onto the other. (NAS-Bench-101's own hash is an iterated-neighbourhood hash that
    needs no search; with at most 5 interior vertices, trying all 120 orderings is cheap and exact.)
    Isomorphic cells compute the same function, but their networks can differ in which output feeder
    takes a leftover channel.
    """
    if isinstance(spec, str):
        spec = parse_spec(spec)
    n, m = spec.num_vertices, spec.matrix
    codes = [NB101_OPS.index(op) for op in spec.ops]
    best = None
    for order in itertools.permutations(range(1, n - 1)):
        perm = (0, *order, n - 1)  # new position -> old vertex
        key = (tuple(codes[v] for v in perm), tuple(m[u][v] for u in perm for v in perm))
        if best is None or key < best:
            best = key
    return hashlib.md5(repr((n, best)).encode()).hexdigest()


# ------------------------------------------------------------------ the network


class ConvBnRelu(nn.Sequential):
    """A k x k conv (stride 1, same padding, no bias), BatchNorm and ReLU.

    BatchNorm keeps PyTorch's defaults (momentum 0.1, eps 1e-5, affine), as in the network NASLib
    measured; the ReLU is not in place, so full backward hooks see intact activations.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=False),
        )


def _vertex_op(op: str, channels: int) -> nn.Module:
    """Return the module of an interior vertex; its input already has `channels` channels."""
    if op == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    return ConvBnRelu(channels, channels, 3 if op == "conv3x3-bn-relu" else 1)


class Nb101Cell(nn.Module):
    """One NAS-Bench-101 cell mapping `c_in` to `c_out` channels at constant resolution.

    A vertex sums its inputs: the outputs of earlier interior vertices (cut to its own width) and, on an
    edge from the cell input, a 1x1 conv-BN-ReLU projection of the input to its width. The output
    concatenates the vertices feeding it (in vertex order) and adds a projection of the input to
    `c_out` when the input feeds it too; a cell whose input feeds the output alone is just that projection.
    """

    def __init__(self, spec: Nb101Spec, c_in: int, c_out: int):
        super().__init__()
        self.spec = spec
        n, m = spec.num_vertices, spec.matrix
        self.channels = spec.vertex_channels(c_in, c_out)
        self.ops = nn.ModuleDict({str(t): _vertex_op(spec.ops[t], self.channels[t]) for t in range(1, n - 1)})
        # keyed by target vertex: only edges out of the input are projected
        self.projections = nn.ModuleDict({str(t): ConvBnRelu(c_in, self.channels[t], 1)
                                          for t in range(1, n) if m[0][t]})
        self.sources = [[s for s in range(1, t) if m[s][t]] for t in range(n)]
        self.feeders = [t for t in range(1, n - 1) if m[t][n - 1]]
        self.out_channels = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.spec.num_vertices
        values = [x]
        for t in range(1, n - 1):
            width = self.channels[t]
            terms = [values[s][:, :width] for s in self.sources[t]]
            if str(t) in self.projections:
                terms.append(self.projections[str(t)](x))
            total = terms[0]
            for term in terms[1:]:
                total = total + term  # out of place: autograd hooks must see every summand unchanged
            values.append(self.ops[str(t)](total))
        last = str(n - 1)
        if not self.feeders:
            return self.projections[last](x)
        feeds = [values[t] for t in self.feeders]
        out = feeds[0] if len(feeds) == 1 else torch.cat(feeds, dim=1)
        if last in self.projections:
            out = out + self.projections[last](x)
        return out


class NasBench101Network(nn.Module):
    """The NAS-Bench-101 network of one cell: stem, `num_stacks` x `cells_per_stack` cells, pool, linear.

    Args:
        spec: the pruned cell every cell position runs.
        num_classes: logits of the head.
        stem_channels: output channels of the 3x3 stem conv-BN-ReLU (and of the first stack).
        num_stacks, cells_per_stack: the skeleton; each later stack starts with a 2x2 max pool (stride 2)
            and its first cell doubles the channels.

    `forward` maps images [B, 3, H, W] to logits [B, num_classes]. `layers` holds the body in order
    (cells and the max pools between stacks); `cells` lists the cells alone.
    Weights are initialised as in NASLib's network: convs normal with std sqrt(2 / (k * k * C_out)),
    BN weight 1 and bias 0, the linear layer normal with std 0.01 and bias 0.
    """

    def __init__(self, spec: Nb101Spec, num_classes: int = 10, stem_channels: int = STEM_CHANNELS,
                 num_stacks: int = NUM_STACKS, cells_per_stack: int = CELLS_PER_STACK):
        super().__init__()
        self.spec = spec
        self.stem = ConvBnRelu(3, stem_channels, 3)
        layers, c = [], stem_channels
        for stack in range(num_stacks):
            c_out = c if stack == 0 else 2 * c
            if stack > 0:
                layers.append(nn.MaxPool2d(2, stride=2))
            for _ in range(cells_per_stack):
                layers.append(Nb101Cell(spec, c, c_out))
                c = c_out
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)
        self._initialise()

    @property
    def cells(self) -> list[Nb101Cell]:
        """Return the cells in order."""
        return [m for m in self.layers if isinstance(m, Nb101Cell)]

    def _initialise(self) -> None:
        # NASLib's proxies were measured on this initialisation, not on PyTorch's default one.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward_pre_gap(self, x: torch.Tensor) -> torch.Tensor:
        """Return the last cell's feature map, shape [B, C, H, W] (the network has no final BN-ReLU)."""
        return self.layers(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_pre_gap(x).mean(dim=(2, 3)))


# ------------------------------------------------------------------ the space


@builtin_space
class NasBench101(SearchSpace):
    """The 500 NAS-Bench-101 archs of NAS-Bench-Suite-Zero; index i is the i-th key of the sample file."""

    name = "nasbench101"
    size = 500
    kind = "graph"
    # NASLib's `val_accuracy`: validation accuracy after 108 epochs, one training seed.
    datasets = (SpaceDataset("cifar10", "valid", 108),)
    ground_truth = SAMPLE_FILE
    isomorphic = True
    can_be_broken = False  # the sample holds connected cells only, and the parser rejects the others

    @cached_property
    def _records(self) -> dict[str, dict]:
        with gzip.open(data_dir() / SAMPLE_FILE, "rt") as f:
            records = json.load(f)["nasbench101"]["cifar10"]
        if len(records) != self.size:
            raise GreenmachineError(f"{data_dir() / SAMPLE_FILE} holds {len(records)} archs, expected {self.size}")
        return records

    @cached_property
    def _archs(self) -> list[str]:
        return list(self._records)  # json objects keep the file's order

    @cached_property
    def _index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self._archs)}

    @cached_property
    def _by_hash(self) -> dict[str, int]:
        keys: dict[str, int] = {}
        for i, s in enumerate(self._archs):
            keys.setdefault(spec_hash(s), i)
        return keys

    def arch_string(self, index: int) -> str:
        return self._archs[self.check_index(index)]

    def index_of(self, arch_str: str) -> int:
        """Return the index of an arch string of the sample; raises ArchStringError if it is malformed or absent.

        Any spacing of the tuple is accepted; the arch must be the very matrix and ops of a sample key.
        """
        spec = parse_spec(arch_str)
        canonical = canonical_string(parse_tuple(arch_str))
        if canonical in self._index:
            return self._index[canonical]
        twin = self._by_hash.get(spec_hash(spec))
        hint = (f"; the same network (after pruning, up to vertex order) is arch {twin}, {self._archs[twin]!r}"
                if twin is not None else "")
        raise ArchStringError(
            f"the benchmark sample has no record of {arch_str!r}: it is a valid NAS-Bench-101 cell, but "
            f"{SAMPLE_FILE} holds only {self.size} archs (indices 0..{self.size - 1}){hint}"
        )

    def load_benchmark(self, data: str | Path | None = None, allow_partial: bool = False) -> Benchmark:
        """Return NASLib's `val_accuracy` of the 500 archs (cifar10, valid, 108 epochs; one training seed each)."""
        accuracy = np.array([float(self._records[a]["val_accuracy"]) for a in self._archs], dtype=np.float64)
        return Benchmark(self.name, {("cifar10", "valid", 108): accuracy}, str(data_dir() / SAMPLE_FILE))

    def spec(self, arch_str: str) -> Nb101Spec:
        """Return the pruned cell of an arch string."""
        return parse_spec(arch_str)

    def unique_key(self, arch_str: str) -> str:
        """Return the isomorphism key of the pruned cell (`spec_hash`)."""
        return spec_hash(arch_str)

    def graph_features(self, arch: Arch) -> dict[str, float]:
        """Return the graph features of the pruned cell (ops on its vertices; kinds: the three interior ops and their pairs).

        The cell's vertex order is not canonical (isomorphic cells differ in it), so no op-on-position code.
        """
        spec = parse_spec(self.resolve(arch)[1])
        return op_graph_features(node_cell_graph(spec.matrix, spec.ops), [NB101_OPS[i] for i in INTERIOR_OPS],
                                 subsets=True)

    def _build(self, arch_str: str, num_classes: int) -> nn.Module:
        return NasBench101Network(parse_spec(arch_str), num_classes)
