"""What a search space is: everything greenmachine knows about one, on one class.

A space names its archs (official indices and strings), builds the network of each for a
dataset, lists the datasets its benchmark trained on (with the metric and training length papers
report), says which sampling filters apply to it (isomorphic archs, broken cells), where its
ground truth comes from and, where it has them, its official files and published reference
values. Adding a space is one module with a subclass and one YAML file in `conf/space/`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from torch import nn

from greenmachine.datasets import DatasetInfo, dataset_info
from greenmachine.errors import GreenmachineError, UnknownNameError
from greenmachine.graph import network_features

if TYPE_CHECKING:  # the benchmark package imports this module
    from greenmachine.benchmark.base import Benchmark

Arch = int | str

METRICS = ("test", "valid")
EVALUATION_SIZE = 3000


class ArchIndexError(GreenmachineError, IndexError):
    """An arch index outside the space."""


@dataclass(frozen=True)
class SpaceDataset:
    """A dataset a space's benchmark trained its archs on.

    Attributes:
        name: the dataset's name (`cifar10`, `class_scene`, ...).
        metric: the accuracy papers report for it (`test` or `valid`).
        epochs: the training length of that accuracy.
        info: class count, input size and normalisation; None = the registered dataset of that name.
    """

    name: str
    metric: str
    epochs: int
    info: DatasetInfo | None = None


@dataclass(frozen=True)
class OfficialFiles:
    """A benchmark's official release: the folder it unpacks to, its API name and its public download id."""

    folder: str
    api: str
    drive_id: str


@dataclass(frozen=True)
class Target:
    """One (space, dataset) pair with the accuracy a proxy is judged against."""

    space: str
    dataset: str
    metric: str
    epochs: int

    @property
    def name(self) -> str:
        """Return `space/dataset`."""
        return f"{self.space}/{self.dataset}"


class SearchSpace(ABC):
    """A benchmark's search space: `size` archs, each with an index 0..size-1 and an official string.

    Class attributes a subclass sets:
        name: the space's name (config value, cache folder, MLflow tag).
        size: number of distinct archs.
        kind: what varies between archs: `cell`, `width`, `macro` (layer choices) or `graph`.
        datasets: the datasets of its benchmark, the default one first.
        ground_truth: the accuracy file, relative to the data folder.
        official: the official release (None: none that greenmachine reads).
        published: (system, dataset) -> a published Kendall tau to compare with.
        isomorphic: whether distinct strings can be the same network (`unique_key` tells them apart).
        can_be_broken: whether an arch can have no input-output path (`is_connected` tells).
        evaluation_cap: the largest fixed evaluation holdout (the field's 3,000 for the big spaces).
        origin: where the space was registered from (`built in`, an entry point, a config `_target_`).
        config: the config section that re-creates a config plug-in in another process (else empty).
    """

    name: str
    size: int
    kind: str = "cell"
    datasets: tuple[SpaceDataset, ...] = ()
    ground_truth: str = ""
    official: OfficialFiles | None = None
    published: Mapping[tuple[str, str], float] = MappingProxyType({})
    isomorphic: bool = False
    can_be_broken: bool = False
    evaluation_cap: int = EVALUATION_SIZE
    origin: str = "built in"
    config: tuple[tuple[str, object], ...] = ()

    @abstractmethod
    def arch_string(self, index: int) -> str:
        """Return the official string of arch `index`."""

    @abstractmethod
    def index_of(self, arch_str: str) -> int:
        """Return the official index of `arch_str`; raises ArchStringError if it is malformed or absent."""

    def _build(self, arch_str: str, num_classes: int) -> nn.Module:
        """Return the untrained network of a validated arch string (a subclass overrides this or `build`)."""
        raise NotImplementedError(f"{type(self).__name__} overrides neither _build nor build")

    def load_benchmark(self, data: str | Path | None = None, allow_partial: bool = False) -> Benchmark:
        """Return the ground truth of this space from the data folder (`data`, else the default; see paths.data_dir).

        The default reads the compact long table `<data>/<name>/accuracies_long.csv.gz`.
        """
        from greenmachine.benchmark.table import load_table
        from greenmachine.paths import data_dir

        return load_table(self.name, data_dir(data), allow_partial=allow_partial)

    def unique_key(self, arch_str: str) -> str:
        """Return the isomorphism key of an arch: equal keys are the same network (default: the string itself)."""
        return arch_str

    def is_connected(self, arch_str: str) -> bool:
        """Return whether some path from input to output carries data (default: always)."""
        return True

    @property
    def evaluation_size(self) -> int:
        """Return the size of the fixed evaluation holdout: `evaluation_cap`, at most a third of the space.

        3,000 for the NATS spaces; a smaller space keeps two thirds of its archs for searching.
        """
        return min(self.evaluation_cap, self.size // 3)

    def dataset_names(self) -> list[str]:
        """Return the names of the space's datasets, the default one first."""
        return [d.name for d in self.datasets]

    def dataset(self, name: str | None = None) -> SpaceDataset:
        """Return the dataset `name` of this space (None: the default one); raises UnknownNameError listing them."""
        if name is None:
            return self.datasets[0]
        for d in self.datasets:
            if d.name == name:
                return d
        raise UnknownNameError(f"dataset of {self.name}", name, self.dataset_names())

    def dataset_info(self, name: str) -> DatasetInfo:
        """Return the class count, input size and normalisation of one of the space's datasets."""
        d = self.dataset(name)
        return d.info or dataset_info(d.name)

    def target(self, dataset: str | None = None, metric: str | None = None, epochs: int | None = None) -> Target:
        """Return the target (this space, `dataset`) with None values filled from the dataset's defaults.

        Raises UnknownNameError for a dataset the space does not have or a metric that does not exist;
        whether the benchmark holds that metric at those epochs is checked when it is read.
        """
        d = self.dataset(dataset)
        metric = d.metric if metric is None else metric
        if metric not in METRICS:
            raise UnknownNameError("metric", metric, METRICS)
        return Target(self.name, d.name, metric, d.epochs if epochs is None else int(epochs))

    def check_index(self, index: int) -> int:
        """Return `index` if it is a valid arch index; raises ArchIndexError otherwise."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.size:
            raise ArchIndexError(f"arch index {index!r} is out of range for {self.name}: valid 0..{self.size - 1}")
        return index

    def resolve(self, arch: Arch) -> tuple[int, str]:
        """Return (index, official string) of an arch given as either; raises on bad input."""
        if isinstance(arch, str) and not arch.lstrip("-").isdigit():
            index = self.index_of(arch)
        elif isinstance(arch, (str, Integral)) and not isinstance(arch, bool):
            index = self.check_index(int(arch))
        else:
            raise ArchIndexError(f"arch {arch!r} of {self.name} must be an index 0..{self.size - 1} or an arch "
                                 f"string like {self.arch_string(0)!r}")
        return index, self.arch_string(index)

    def build(self, arch: Arch, dataset: str) -> nn.Module:
        """Return the benchmark network of `arch` with the classifier head of `dataset`, freshly initialised."""
        info = self.dataset_info(dataset)
        _, arch_str = self.resolve(arch)
        return self._build(arch_str, info.num_classes)

    def graph_features(self, arch: Arch) -> dict[str, float]:
        """Return the zero-cost graph features of `arch`: name -> value, the same names for every arch of the space.

        This default reads the network's autograd graph (`greenmachine.graph.network_features`), so every
        space has them; a space whose archs are cells, chains of blocks or widths overrides it with the
        features of that description (docs/ensemble.md lists them per space).
        """
        dataset = self.datasets[0].name
        size = self.dataset_info(dataset).resolution
        return network_features(self.build(arch, dataset), (3, size, size))

    def describe(self) -> str:
        """Return one line: archs, kind and datasets with their default metric and epochs."""
        datasets = ", ".join(f"{d.name} ({d.metric}, {d.epochs} ep)" for d in self.datasets)
        return f"{self.size:,} archs ({self.kind}); datasets: {datasets}"
