"""NATS-Bench size space (SSS): 32,768 channel configurations `c0:c1:c2:c3:c4` of one fixed cell."""

from __future__ import annotations

from types import MappingProxyType

from torch import nn

from greenmachine.spaces.base import Arch, OfficialFiles, SearchSpace, SpaceDataset
from greenmachine.spaces.cell import ArchStringError, Genotype
from greenmachine.spaces.network import NatsNetwork
from greenmachine.spaces.registry import builtin_space

SSS_CHANNELS = (8, 16, 24, 32, 40, 48, 56, 64)
SSS_GENOTYPE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
SSS_POSITIONS = 5


@builtin_space
class NatsSSS(SearchSpace):
    """Size space: cell(c0), reduction(c1), cell(c2), reduction(c3), cell(c4); the last position varies fastest."""

    name = "nats_sss"
    size = len(SSS_CHANNELS) ** SSS_POSITIONS
    kind = "width"
    datasets = (SpaceDataset("cifar10", "test", 90), SpaceDataset("cifar100", "test", 90),
                SpaceDataset("ImageNet16-120", "test", 90), SpaceDataset("cifar10-valid", "valid", 90))
    ground_truth = "nats_sss/accuracies_long.csv.gz"
    official = OfficialFiles("NATS-sss-v1_0-50262-simple", "sss", "1scOMTUwcQhAMa_IMedp9lTzwmgqHLGgA")
    # Kendall tau (ANCHORS.md): EZNAS over the whole space (batch 16); GreenFactory's forest on held-out archs;
    # GreenMachine on its stratified subsets.
    published = MappingProxyType({
        ("EZNAS", "cifar10"): 0.707,
        ("GreenFactory", "cifar10"): 0.907, ("GreenFactory", "cifar100"): 0.945, ("GreenFactory", "ImageNet16-120"): 0.920,
        ("GreenMachine", "cifar10"): 0.89, ("GreenMachine", "cifar100"): 0.77,
    })

    def arch_string(self, index: int) -> str:
        self.check_index(index)
        digits = []
        for _ in range(SSS_POSITIONS):
            index, d = divmod(index, len(SSS_CHANNELS))
            digits.append(SSS_CHANNELS[d])
        return ":".join(str(c) for c in reversed(digits))

    def index_of(self, arch_str: str) -> int:
        parts = arch_str.split(":") if isinstance(arch_str, str) else []
        if len(parts) != SSS_POSITIONS or not all(p.isdigit() and int(p) in SSS_CHANNELS for p in parts):
            raise ArchStringError(
                f"{arch_str!r} is not a {self.name} arch: expected {SSS_POSITIONS} channel counts joined by ':' "
                f"(e.g. '8:16:32:48:64'), each one of {', '.join(map(str, SSS_CHANNELS))}"
            )
        index = 0
        for p in parts:
            index = index * len(SSS_CHANNELS) + SSS_CHANNELS.index(int(p))
        return index

    @staticmethod
    def channels(arch_str: str) -> tuple[int, ...]:
        """Return the five channel counts of an SSS arch string."""
        return tuple(int(p) for p in arch_str.split(":"))

    def graph_features(self, arch: Arch) -> dict[str, float]:
        """Return the five channel counts (`width.0` .. `width.4`): every arch has the same graph, only its widths vary."""
        return {f"width.{i}": float(c) for i, c in enumerate(self.channels(self.resolve(arch)[1]))}

    def _build(self, arch_str: str, num_classes: int) -> nn.Module:
        c = self.channels(arch_str)
        blocks = [("cell", c[0]), ("reduce", c[1]), ("cell", c[2]), ("reduce", c[3]), ("cell", c[4])]
        return NatsNetwork(Genotype.parse(SSS_GENOTYPE), c[0], blocks, num_classes)
