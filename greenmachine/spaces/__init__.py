"""Search spaces: arch strings and indices, and our own implementation of each benchmark's networks."""

from __future__ import annotations

from torch import nn

from greenmachine.registry import Registry
from greenmachine.spaces.base import Arch, ArchIndexError, SearchSpace
from greenmachine.spaces.cell import ArchStringError, Genotype
from greenmachine.spaces.nats_sss import NatsSSS
from greenmachine.spaces.nats_tss import NatsTSS

SPACES: Registry[SearchSpace] = Registry("space")
SPACES.add(NatsTSS.name, NatsTSS())
SPACES.add(NatsSSS.name, NatsSSS())


def get_space(name: str) -> SearchSpace:
    """Return the search space called `name`; raises UnknownNameError listing the valid spaces."""
    return SPACES[name]


def build_network(space: str, arch: Arch, dataset: str) -> nn.Module:
    """Return the untrained benchmark network of `arch` (index or official string) for `dataset`.

    The module's forward maps images [B, 3, H, W] to logits [B, num_classes].
    """
    return get_space(space).build(arch, dataset)


__all__ = ["SPACES", "Arch", "ArchIndexError", "ArchStringError", "Genotype", "SearchSpace", "build_network", "get_space"]
