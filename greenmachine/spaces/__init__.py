"""Search spaces: the built-in benchmarks, plug-ins from entry points or config, and their networks.

Each built-in space is one module here (its class carries `@builtin_space`); see `registry` for
how spaces are found and `plugin` for the contract a user's own space follows.
"""

from __future__ import annotations

from torch import nn

from greenmachine.spaces.base import Arch, ArchIndexError, SearchSpace, SpaceDataset, Target
from greenmachine.spaces.cell import ArchStringError, Genotype
from greenmachine.spaces.plugin import PluginError
from greenmachine.spaces.registry import (ENTRY_POINT_GROUP, SPACES, all_spaces, builtin_space, discover, get_space,
                                          register_space, space_from_config)


def build_network(space: str, arch: Arch, dataset: str) -> nn.Module:
    """Return the untrained benchmark network of `arch` (index or official string) for `dataset`.

    The module's forward maps images [B, 3, H, W] to logits [B, num_classes].
    """
    return get_space(space).build(arch, dataset)


__all__ = ["ENTRY_POINT_GROUP", "SPACES", "Arch", "ArchIndexError", "ArchStringError", "Genotype", "PluginError",
           "SearchSpace", "SpaceDataset", "Target", "all_spaces", "build_network", "builtin_space", "discover",
           "get_space", "register_space", "space_from_config"]
