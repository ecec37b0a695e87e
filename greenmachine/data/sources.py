"""The registry of probe source kinds (`noise`, `npz`, `cifar`, `imagenet16`) and their shared error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from greenmachine.data.probe import Probe
from greenmachine.datasets import DatasetInfo
from greenmachine.errors import GreenmachineError
from greenmachine.registry import Registry


class ProbeSourceError(GreenmachineError):
    """A probe source that cannot serve the request: wrong format, dataset mismatch, too few images."""


@dataclass(frozen=True)
class SourceKind:
    """How one kind of probe source is recognised and turned into a probe.

    Attributes:
        make: (dataset info, path or None, batch_size, seed, split) -> Probe.
        layout: what the kind reads, for error messages ("a .npz file with ...").
        recognises: whether a path holds this kind's layout; None for a kind that takes no path (noise).
    """

    make: Callable[[DatasetInfo, Path | None, int, int, str], Probe]
    layout: str
    recognises: Callable[[Path], bool] | None = None


SOURCES: Registry[SourceKind] = Registry("probe source kind")
