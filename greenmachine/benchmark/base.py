"""Ground truth of one space: accuracy by (arch, dataset, metric, epochs), NATS-Bench semantics."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from greenmachine.errors import DataNotFoundError, GreenmachineError, UnknownNameError
from greenmachine.spaces import Arch, get_space
from greenmachine.spaces.base import METRICS


class MissingRecordError(GreenmachineError):
    """A (dataset, metric, epochs) the benchmark has, but not for the arch asked about."""


class PartialBenchmarkError(DataNotFoundError):
    """A table or official folder that holds records of only some archs (refused unless allow_partial)."""


@dataclass(frozen=True, eq=False)
class Benchmark:
    """Accuracies (percent, mean over training seeds) of every arch of a space.

    Attributes:
        space: the space's name.
        values: (dataset, metric, epochs) -> float64 [space size] indexed by arch, NaN where there is no
            record; read-only (the arrays are shared by every Benchmark loaded from the same file).
        source: where the numbers were read from (a path).
    """

    space: str
    values: Mapping[tuple[str, str, int], np.ndarray]
    source: str

    def __post_init__(self) -> None:
        size = get_space(self.space).size
        frozen = {}
        for key, array in self.values.items():
            if array.shape != (size,) or array.dtype != np.float64:
                raise GreenmachineError(f"accuracies {key} of {self.space} must be float64 [{size}], "
                                        f"got {array.dtype} {list(array.shape)}")
            array.flags.writeable = False
            frozen[key] = array
        object.__setattr__(self, "values", MappingProxyType(frozen))

    @property
    def size(self) -> int:
        """Return the number of archs of the space."""
        return get_space(self.space).size

    def default_epochs(self, dataset: str | None = None) -> int:
        """Return the training length papers report for `dataset` (None: the space's default dataset)."""
        return get_space(self.space).dataset(dataset).epochs

    def available(self) -> list[tuple[str, str, int]]:
        """Return every (dataset, metric, epochs) this benchmark holds, sorted."""
        return sorted(self.values)

    def complete_archs(self) -> int:
        """Return how many archs have a record for every (dataset, metric, epochs) the benchmark holds."""
        if not self.values:
            return 0
        return int(np.logical_and.reduce([np.isfinite(v) for v in self.values.values()]).sum())

    def target(self, dataset: str, metric: str | None = None, epochs: int | None = None) -> tuple[str, str, int]:
        """Return the validated (dataset, metric, epochs) key; None metric and epochs are the dataset's defaults.

        Raises UnknownNameError for a dataset, metric or epochs this benchmark never has, and
        GreenmachineError listing what is available for a combination it lacks.
        """
        have = self.available()
        if dataset not in {d for d, _, _ in have}:
            raise UnknownNameError(f"dataset of {self.space}", dataset, {d for d, _, _ in have})
        if metric is not None and metric not in METRICS:
            raise UnknownNameError("metric", metric, METRICS)
        all_epochs = {str(e) for _, _, e in have}
        try:
            epochs = None if epochs is None else operator.index(epochs)
        except TypeError:
            raise UnknownNameError(f"epochs of {self.space}", epochs, all_epochs) from None
        space = get_space(self.space)
        defaults = space.target(dataset) if dataset in space.dataset_names() else None
        metric = metric or (defaults.metric if defaults else "test")
        if epochs is None:
            epochs = defaults.epochs if defaults else max(e for d, m, e in have if d == dataset)
        key = (dataset, metric, epochs)
        if key not in self.values:
            listing = ", ".join(f"{d}/{m}/{e}" for d, m, e in have)
            raise GreenmachineError(f"no {metric!r} accuracy for {dataset} at {epochs} epochs in {self.space}; "
                                    f"available (dataset/metric/epochs): {listing}")
        return key

    def accuracies(self, dataset: str, metric: str | None = None, epochs: int | None = None) -> np.ndarray:
        """Return the accuracy of every arch, float64 [size] indexed by arch index (NaN: no record), read-only."""
        return self.values[self.target(dataset, metric, epochs)]

    def accuracy(self, arch: Arch, dataset: str, metric: str | None = None, epochs: int | None = None) -> float:
        """Return one arch's accuracy; raises MissingRecordError naming the arch when the source has no record of it."""
        key = self.target(dataset, metric, epochs)
        index, arch_str = get_space(self.space).resolve(arch)
        value = float(self.values[key][index])
        if np.isnan(value):
            have = int(np.isfinite(self.values[key]).sum())
            raise MissingRecordError(f"{self.source} has no record of {self.space} arch {index} ({arch_str}) for "
                                     f"{'/'.join(map(str, key))} (it holds {have} of {self.size} arch records)")
        return value


def check_complete(bench: Benchmark, allow_partial: bool) -> Benchmark:
    """Return `bench` if every arch has every record, or if `allow_partial`; else raise PartialBenchmarkError."""
    complete = bench.complete_archs()
    if complete < bench.size and not allow_partial:
        raise PartialBenchmarkError(
            f"{bench.source} holds {complete} of {bench.size} arch records of {bench.space}: a partial download or "
            "conversion? Convert the whole official archive (`greenmachine fetch` / `greenmachine convert`), or pass "
            "allow_partial=True to use only the archs it has (the others then have NaN accuracies and are never sampled)")
    return bench
