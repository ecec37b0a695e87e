"""The `cifar` source: CIFAR-10 / CIFAR-100 in their python-pickle layout under one root folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from greenmachine.data.images import probe_from_images
from greenmachine.data.pickles import file_span, read_batch
from greenmachine.data.probe import Probe
from greenmachine.data.sources import SOURCES, ProbeSourceError, SourceKind
from greenmachine.datasets import DatasetInfo
from greenmachine.errors import DataNotFoundError


@dataclass(frozen=True)
class CifarLayout:
    """One CIFAR archive as unpacked under the root.

    Attributes:
        folder: sub-folder of the root.
        files: batch file names per split (`train`, `test`).
        label_key: the labels' key in each batch.
        datasets: the NATS datasets read from it.
    """

    folder: str
    files: dict[str, tuple[str, ...]]
    label_key: str
    datasets: tuple[str, ...]

    def describe(self) -> str:
        """Return `folder/ (train: ..., test: ...)` for messages."""
        splits = "; ".join(f"{split}: {file_span(names)}" for split, names in self.files.items())
        return f"{self.folder}/ ({splits})"


LAYOUTS = (
    CifarLayout("cifar-10-batches-py",
                {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
                "labels", ("cifar10", "cifar10-valid")),
    CifarLayout("cifar-100-python", {"train": ("train",), "test": ("test",)}, "fine_labels", ("cifar100",)),
)
LAYOUT = "a CIFAR root folder holding " + " or ".join(layout.describe() for layout in LAYOUTS)
SERVED = [name for layout in LAYOUTS for name in layout.datasets]


def is_cifar_root(path: Path) -> bool:
    """Return whether `path` is a folder holding at least one CIFAR archive folder."""
    return any((path / layout.folder).is_dir() for layout in LAYOUTS)


def cifar_probe(info: DatasetInfo, path: Path | None, batch_size: int, seed: int, split: str) -> Probe:
    """Return a probe drawn from the `split` images of the CIFAR archive that `info` names, under root `path`.

    `cifar10` and `cifar10-valid` read CIFAR-10 (the whole train or test set), `cifar100` CIFAR-100
    with its fine labels.

    Returns:
        Probe with inputs float32 [B, 3, 32, 32] and targets int64 [B].
    """
    layout = next((layout for layout in LAYOUTS if info.name in layout.datasets), None)
    if layout is None:
        raise ProbeSourceError(f"dataset {info.name!r} cannot be probed with CIFAR images from {path}; the cifar "
                               f"source serves {', '.join(SERVED)} (use noise, a .npz file or an ImageNet16 folder)")
    folder = path / layout.folder
    if not folder.is_dir():
        present = [other.folder for other in LAYOUTS if (path / other.folder).is_dir()]
        serves = [name for other in LAYOUTS if other.folder in present for name in other.datasets]
        raise DataNotFoundError(f"dataset {info.name!r} needs {path / layout.folder}, which does not exist; {path} "
                                f"holds {', '.join(present)}, valid datasets for it: {', '.join(serves)}")
    files = [folder / name for name in layout.files[split]]
    missing = [file.name for file in files if not file.is_file()]
    if missing:
        raise DataNotFoundError(f"{folder} lacks {', '.join(missing)}; the {split} split needs "
                                f"{file_span(layout.files[split])}")
    batches = [read_batch(file, layout.label_key, 32) for file in files]
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    if labels.min() < 0 or labels.max() >= info.num_classes:
        raise ProbeSourceError(f"{folder} has labels {labels.min()}..{labels.max()}; {info.name} needs "
                               f"0..{info.num_classes - 1}")
    origin = f"{folder.resolve()}/{file_span(layout.files[split])} ({split}, {len(labels)} images)"
    return probe_from_images(info, images, labels, batch_size, seed, "cifar", origin)


SOURCES.add("cifar", SourceKind(cifar_probe, LAYOUT, is_cifar_root))
