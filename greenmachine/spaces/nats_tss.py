"""NATS-Bench topology space (TSS, = NAS-Bench-201): 15,625 cells on a fixed C=16, N=5 skeleton."""

from __future__ import annotations

import gzip
from functools import cached_property
from importlib import resources
from types import MappingProxyType

from torch import nn

from greenmachine.graph import edge_cell_features
from greenmachine.spaces.base import Arch, OfficialFiles, SearchSpace, SpaceDataset
from greenmachine.spaces.cell import ArchStringError, Genotype
from greenmachine.spaces.isomorphism import unique_str
from greenmachine.spaces.network import NatsNetwork
from greenmachine.spaces.registry import builtin_space

TSS_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
TSS_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (source, target) in string order


def tss_string(ops: tuple[str, ...]) -> str:
    """Return the arch string of six edge ops given in TSS_EDGES order."""
    nodes = [[], [], []]
    for (src, dst), op in zip(TSS_EDGES, ops, strict=True):
        nodes[dst - 1].append((op, src))
    return Genotype(tuple(tuple(n) for n in nodes)).tostr()


@builtin_space
class NatsTSS(SearchSpace):
    """Topology space: stem 16, 5 cells at 16, reduction to 32, 5 cells, reduction to 64, 5 cells."""

    name = "nats_tss"
    size = 15_625
    kind = "cell"
    datasets = (SpaceDataset("cifar10", "test", 200), SpaceDataset("cifar100", "test", 200),
                SpaceDataset("ImageNet16-120", "test", 200), SpaceDataset("cifar10-valid", "valid", 200))
    ground_truth = "nats_tss/accuracies_long.csv.gz"
    # The 2020.08.31 archive linked from D-X-Y/NATS-Bench's README (read at commit 00201cc).
    official = OfficialFiles("NATS-tss-v1_0-3ffb9-simple", "tss", "17_saCsj_krKjlCBLOJEpNtzPXArMCqxU")
    # Kendall tau (ANCHORS.md): VKDNW_agg, the best training-free proxy over the whole space (VKDNW, CVPR 2025,
    # Table 1); GreenFactory's forest on held-out archs; GreenMachine on its stratified subsets; the best trained
    # predictor in VKDNW's Table 1 ((VKDNW+ZCS+GRAF)_m, a model trained on benchmark accuracies).
    published = MappingProxyType({
        ("VKDNW_agg", "cifar10"): 0.750, ("VKDNW_agg", "cifar100"): 0.753, ("VKDNW_agg", "ImageNet16-120"): 0.743,
        ("VKDNW+ZCS+GRAF", "cifar10"): 0.859, ("VKDNW+ZCS+GRAF", "cifar100"): 0.847,
        ("VKDNW+ZCS+GRAF", "ImageNet16-120"): 0.842,
        ("GreenFactory", "cifar10"): 0.921, ("GreenFactory", "cifar100"): 0.929, ("GreenFactory", "ImageNet16-120"): 0.908,
        ("GreenMachine", "cifar10"): 0.78, ("GreenMachine", "cifar100"): 0.71,
    })
    isomorphic = True
    can_be_broken = True
    channels = 16
    cells_per_stage = 5

    @cached_property
    def _archs(self) -> list[str]:
        # The official index order (NATS-Bench meta_archs), six op codes per line in TSS_EDGES order.
        text = gzip.decompress(resources.files(__package__).joinpath("nats_tss_archs.txt.gz").read_bytes())
        return [tss_string(tuple(TSS_OPS[int(c)] for c in line)) for line in text.decode().split()]

    @cached_property
    def _index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self._archs)}

    def arch_string(self, index: int) -> str:
        return self._archs[self.check_index(index)]

    def index_of(self, arch_str: str) -> int:
        canonical = Genotype.parse(arch_str).tostr()
        if canonical not in self._index:
            raise ArchStringError(
                f"{arch_str!r} is not a {self.name} arch: it needs 3 nodes with edges from every earlier node, "
                f"e.g. {self._archs[0]!r}; ops: {', '.join(TSS_OPS)}"
            )
        return self._index[canonical]

    def unique_key(self, arch_str: str) -> str:
        """Return NATS-Bench's isomorphism key of the cell (`nats_unique_str`; 6,466 classes)."""
        return unique_str(arch_str)

    def is_connected(self, arch_str: str) -> bool:
        """Return whether the cell has a path of non-`none` ops from input to output (341 archs have none)."""
        return Genotype.parse(arch_str).is_connected()

    def graph_features(self, arch: Arch) -> dict[str, float]:
        """Return the graph features of the cell (ops on its 6 edges, kinds TSS_OPS), not of the whole network."""
        cell = Genotype.parse(self.resolve(arch)[1])
        return edge_cell_features(cell.edges(), len(cell.nodes) + 1, TSS_OPS)

    def _build(self, arch_str: str, num_classes: int) -> nn.Module:
        c, n = self.channels, self.cells_per_stage
        blocks = [("cell", c)] * n + [("reduce", 2 * c)] + [("cell", 2 * c)] * n + [("reduce", 4 * c)] + [("cell", 4 * c)] * n
        return NatsNetwork(Genotype.parse(arch_str), c, blocks, num_classes)
