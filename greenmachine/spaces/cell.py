"""Cell genotypes (`|op~0|+|op~0|op~1|+|...|`) and the cell that runs one."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from greenmachine.errors import GreenmachineError
from greenmachine.spaces.ops import OPS


class ArchStringError(GreenmachineError):
    """An architecture string that does not parse."""


@dataclass(frozen=True)
class Genotype:
    """A cell: node i (1-based) sums op(node j) over its incoming edges; the output is the last node.

    Attributes:
        nodes: one tuple of (op name, source node) edges per computed node.
    """

    nodes: tuple[tuple[tuple[str, int], ...], ...]

    @classmethod
    def parse(cls, text: str) -> Genotype:
        """Parse the official string form; raises ArchStringError naming what is wrong."""
        example = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
        if not isinstance(text, str) or not text:
            raise ArchStringError(f"arch string must be a non-empty string like {example!r}, got {text!r}")
        nodes = []
        for i, group in enumerate(text.split("+"), start=1):
            if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
                raise ArchStringError(f"malformed arch string {text!r}: node group {group!r} must look like '|op~j|'")
            edges = []
            for edge in group[1:-1].split("|"):
                op, sep, src = edge.partition("~")
                if not sep or not src.isdigit():
                    raise ArchStringError(f"malformed arch string {text!r}: edge {edge!r} must be 'op~source'")
                if op not in OPS:
                    raise ArchStringError(f"unknown operation {op!r} in arch string {text!r}; valid: {', '.join(OPS.names())}")
                if int(src) >= i:
                    raise ArchStringError(f"malformed arch string {text!r}: node {i} cannot take input from node {src}")
                edges.append((op, int(src)))
            nodes.append(tuple(edges))
        return cls(tuple(nodes))

    def tostr(self) -> str:
        """Return the official string form."""
        return "+".join("|" + "|".join(f"{op}~{src}" for op, src in node) + "|" for node in self.nodes)

    def edges(self) -> list[tuple[int, int, str]]:
        """Return every edge as (source node, target node, op)."""
        return [(src, i, op) for i, node in enumerate(self.nodes, start=1) for op, src in node]

    def is_connected(self) -> bool:
        """Return True when some path of non-`none` ops leads from the input node to the output node."""
        reach = {0}
        for src, dst, op in sorted(self.edges(), key=lambda e: e[1]):
            if op != "none" and src in reach:
                reach.add(dst)
        return len(self.nodes) in reach


class InferCell(nn.Module):
    """Run a Genotype: edges leaving node 0 map C_in -> C_out (with stride), the others C_out -> C_out."""

    def __init__(self, genotype: Genotype, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.genotype = genotype
        self.edges = nn.ModuleList()
        self.wiring: list[list[tuple[int, int]]] = []  # per node: (edge index, source node)
        for node in genotype.nodes:
            inputs = []
            for op, src in node:
                layer = OPS[op](c_in, c_out, stride) if src == 0 else OPS[op](c_out, c_out, 1)
                inputs.append((len(self.edges), src))
                self.edges.append(layer)
            self.wiring.append(inputs)
        self.out_channels = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for inputs in self.wiring:
            nodes.append(sum(self.edges[e](nodes[src]) for e, src in inputs))
        return nodes[-1]
