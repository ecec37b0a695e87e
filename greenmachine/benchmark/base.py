"""Ground truth of one space: accuracy by (arch, dataset, metric, epochs), NATS-Bench semantics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greenmachine.errors import GreenmachineError, UnknownNameError
from greenmachine.spaces import Arch, get_space

METRICS = ("test", "valid")
DEFAULT_EPOCHS = {"nats_tss": 200, "nats_sss": 90}


class MissingRecordError(GreenmachineError):
    """A (dataset, metric, epochs) the benchmark has, but not for the arch asked about."""


@dataclass(frozen=True)
class Benchmark:
    """Accuracies (percent, mean over training seeds) of every arch of a space.

    Attributes:
        space: the space's name.
        values: (dataset, metric, epochs) -> float64 [space size], NaN where there is no record.
        source: where the numbers were read from (a path).
    """

    space: str
    values: dict[tuple[str, str, int], np.ndarray]
    source: str

    @property
    def size(self) -> int:
        """Return the number of archs of the space."""
        return get_space(self.space).size

    @property
    def default_epochs(self) -> int:
        """Return the training length papers report for this space (200 TSS, 90 SSS)."""
        return DEFAULT_EPOCHS[self.space]

    def available(self) -> list[tuple[str, str, int]]:
        """Return every (dataset, metric, epochs) this benchmark holds, sorted."""
        return sorted(self.values)

    def _key(self, dataset: str, metric: str, epochs: int | None) -> tuple[str, str, int]:
        epochs = self.default_epochs if epochs is None else epochs
        key = (dataset, metric, epochs)
        if key in self.values:
            return key
        have = self.available()
        if dataset not in {d for d, _, _ in have}:
            raise UnknownNameError(f"dataset of {self.space}", dataset, {d for d, _, _ in have})
        if metric not in METRICS:
            raise UnknownNameError("metric", metric, METRICS)
        listing = ", ".join(f"{d}/{m}/{e}" for d, m, e in have)
        raise GreenmachineError(f"no {metric!r} accuracy for {dataset} at {epochs} epochs in {self.space}; "
                                f"available (dataset/metric/epochs): {listing}")

    def accuracies(self, dataset: str, metric: str = "test", epochs: int | None = None) -> np.ndarray:
        """Return the accuracy of every arch, float64 [size] indexed by arch index (NaN: no record)."""
        return self.values[self._key(dataset, metric, epochs)]

    def accuracy(self, arch: Arch, dataset: str, metric: str = "test", epochs: int | None = None) -> float:
        """Return one arch's accuracy; raises naming the arch when the source has no record of it."""
        index, _ = get_space(self.space).resolve(arch)
        value = float(self.accuracies(dataset, metric, epochs)[index])
        if np.isnan(value):
            raise MissingRecordError(f"{self.source} has no record of {self.space} arch {index} "
                                     f"({dataset}, {metric}, {epochs or self.default_epochs} epochs)")
        return value
