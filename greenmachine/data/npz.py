"""The `npz` source: images stored as `x` uint8 [N, H, W, 3] (RGB) and `y` labels in one .npz file."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from greenmachine.data.images import probe_from_images
from greenmachine.data.probe import Probe
from greenmachine.data.sources import SOURCES, ProbeSourceError, SourceKind
from greenmachine.datasets import DatasetInfo
from greenmachine.errors import describe

LAYOUT = "a .npz file with x uint8 [N,H,W,3] (RGB) and y labels [N]"


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return the images and labels of an .npz probe file, checked.

    Returns:
        images uint8 [N, 3, H, W] (channel-major view of `x`) and labels int64 [N] (`y`).
    """
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = {name: arrays[name] for name in ("x", "y") if name in arrays.files}
            names = arrays.files
    except (OSError, ValueError, EOFError, KeyError, NotImplementedError, zipfile.BadZipFile, zlib.error) as exc:
        raise ProbeSourceError(f"{path} is not a readable .npz file ({describe(exc)}); expected {LAYOUT}: "
                               "write it again or set probe.source to another file") from exc
    if set(found) != {"x", "y"}:
        raise ProbeSourceError(f"{path} holds arrays {', '.join(names) or 'none'}; expected {LAYOUT}")
    x, y = found["x"], found["y"]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ProbeSourceError(f"{path}: x is {x.dtype} {list(x.shape)}; expected {LAYOUT}")
    if not np.issubdtype(y.dtype, np.integer) or y.shape != x.shape[:1]:
        raise ProbeSourceError(f"{path}: y is {y.dtype} {list(y.shape)} for {len(x)} images; expected {LAYOUT}")
    return x.transpose(0, 3, 1, 2), y.astype(np.int64)


def npz_probe(info: DatasetInfo, path: Path | None, batch_size: int, seed: int, split: str) -> Probe:
    """Return a probe drawn from the images of the .npz file at `path` (`split` does not apply).

    Returns:
        Probe with inputs float32 [B, 3, R, R] (resized when the file's images are not R x R) and
        targets int64 [B], the file's labels.
    """
    images, labels = read_npz(path)
    if labels.size and (labels.min() < 0 or labels.max() >= info.num_classes):
        raise ProbeSourceError(f"{path} has labels {labels.min()}..{labels.max()}, but {info.name} has "
                               f"{info.num_classes} classes; valid labels: 0..{info.num_classes - 1}")
    origin = f"{path.resolve()} ({len(labels)} images {images.shape[2]}x{images.shape[3]})"
    return probe_from_images(info, images, labels, batch_size, seed, "npz", origin)


SOURCES.add("npz", SourceKind(npz_probe, LAYOUT, lambda path: path.is_file() and path.suffix == ".npz"))
