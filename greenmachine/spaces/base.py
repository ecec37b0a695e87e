"""What a search space offers: arch strings and indices, and the network of an arch for a dataset."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import nn

from greenmachine.datasets import dataset_info
from greenmachine.errors import GreenmachineError

Arch = int | str


class ArchIndexError(GreenmachineError, IndexError):
    """An arch index outside the space."""


class SearchSpace(ABC):
    """A benchmark's search space: `size` archs, each with an official index and string."""

    name: str
    size: int

    @abstractmethod
    def arch_string(self, index: int) -> str:
        """Return the official string of arch `index`."""

    @abstractmethod
    def index_of(self, arch_str: str) -> int:
        """Return the official index of `arch_str`; raises ArchStringError if it is malformed or absent."""

    @abstractmethod
    def _build(self, arch_str: str, num_classes: int) -> nn.Module:
        """Return the untrained network of a validated arch string."""

    def check_index(self, index: int) -> int:
        """Return `index` if it is a valid arch index; raises ArchIndexError otherwise."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.size:
            raise ArchIndexError(f"arch index {index!r} is out of range for {self.name}: valid 0..{self.size - 1}")
        return index

    def resolve(self, arch: Arch) -> tuple[int, str]:
        """Return (index, official string) of an arch given as either; raises on bad input."""
        if isinstance(arch, str) and not arch.lstrip("-").isdigit():
            index = self.index_of(arch)
            return index, self.arch_string(index)
        index = self.check_index(int(arch) if isinstance(arch, str) else arch)
        return index, self.arch_string(index)

    def build(self, arch: Arch, dataset: str) -> nn.Module:
        """Return the benchmark network of `arch` with the classifier head of `dataset`, freshly initialised."""
        info = dataset_info(dataset)
        _, arch_str = self.resolve(arch)
        return self._build(arch_str, info.num_classes)
