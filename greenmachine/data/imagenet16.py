"""The `imagenet16` source: ImageNet16 in its official batch layout, restricted to the 120 classes of ImageNet16-120."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from greenmachine.data.images import probe_from_images
from greenmachine.data.pickles import file_span, read_batch
from greenmachine.data.probe import Probe
from greenmachine.data.sources import SOURCES, ProbeSourceError, SourceKind
from greenmachine.datasets import DatasetInfo
from greenmachine.errors import DataNotFoundError

FILES = {"train": tuple(f"train_data_batch_{i}" for i in range(1, 11)), "test": ("val_data",)}
LAYOUT = "an ImageNet16 folder holding train_data_batch_1..10 and val_data"
DATASET = "ImageNet16-120"
KEPT_CLASSES = 120  # ImageNet16-120 keeps the stored (1-based) labels 1..120


def is_imagenet16_folder(path: Path) -> bool:
    """Return whether `path` is a folder holding any ImageNet16 batch file."""
    return path.is_dir() and any((path / name).is_file() for names in FILES.values() for name in names)


def imagenet16_probe(info: DatasetInfo, path: Path | None, batch_size: int, seed: int, split: str) -> Probe:
    """Return a probe drawn from the ImageNet16-120 images of `split` (train batches or val_data) in `path`.

    Only images with stored labels 1..120 are kept; they become labels 0..119.

    Returns:
        Probe with inputs float32 [B, 3, 16, 16] and targets int64 [B] in 0..119.
    """
    if info.name != DATASET:
        raise ProbeSourceError(f"dataset {info.name!r} cannot be probed with ImageNet16 images from {path}; the "
                               f"imagenet16 source serves {DATASET} only (use noise, a .npz file or a CIFAR folder)")
    files = [path / name for name in FILES[split]]
    missing = [file.name for file in files if not file.is_file()]
    if missing:
        raise DataNotFoundError(f"{path} lacks {', '.join(missing)}; the {split} split needs "
                                f"{file_span(FILES[split])}")
    kept_images, kept_labels = [], []
    for file in files:  # filter batch by batch: the full train set is ten times the 120-class subset
        images, labels = read_batch(file, "labels", 16)
        keep = (labels >= 1) & (labels <= KEPT_CLASSES)
        kept_images.append(images[keep])
        kept_labels.append(labels[keep] - 1)
    images, labels = np.concatenate(kept_images), np.concatenate(kept_labels)
    origin = (f"{path.resolve()}/{file_span(FILES[split])} ({split}, {len(labels)} images with labels "
              f"1..{KEPT_CLASSES} mapped to 0..{KEPT_CLASSES - 1})")
    return probe_from_images(info, images, labels, batch_size, seed, "imagenet16", origin)


SOURCES.add("imagenet16", SourceKind(imagenet16_probe, LAYOUT, is_imagenet16_folder))
