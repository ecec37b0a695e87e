"""Turn a pool of uint8 images into a probe: draw without replacement, resize, normalise."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from greenmachine.data.probe import Probe
from greenmachine.data.sources import ProbeSourceError
from greenmachine.datasets import DatasetInfo


def probe_from_images(info: DatasetInfo, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                      kind: str, origin: str) -> Probe:
    """Return a probe of `batch_size` images drawn without replacement by numpy `default_rng(seed)`.

    Images whose size differs from the dataset's resolution are resized with antialiased bilinear
    interpolation (on the 0..1 scale, before normalisation), and `origin` says so.

    Args:
        info: the dataset whose resolution, mean and std the probe gets.
        images: uint8 [N, 3, h, w], RGB, channel-major.
        labels: integer [N], already in 0..num_classes-1.
        batch_size: B, at most N.
        seed: seeds the draw.
        kind: the source kind recorded in the probe.
        origin: the exact files and split the pool came from.

    Returns:
        Probe with inputs float32 [B, 3, R, R] (R = info.resolution) and targets int64 [B].
    """
    available = len(labels)
    if batch_size > available:
        raise ProbeSourceError(f"batch_size={batch_size} but {origin} holds only {available} images; "
                               f"valid: 1..{available}")
    index = np.random.default_rng(seed).choice(available, size=batch_size, replace=False)
    pixels = torch.from_numpy(np.ascontiguousarray(images[index])).to(torch.float32) / 255
    side = info.resolution
    height, width = pixels.shape[-2:]
    if (height, width) != (side, side):
        pixels = F.interpolate(pixels, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
        origin += f", resized {height}x{width} -> {side}x{side} (antialiased bilinear)"
    mean = torch.tensor(info.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(info.std, dtype=torch.float32).view(1, 3, 1, 1)
    inputs = ((pixels - mean) / std).contiguous()
    targets = torch.from_numpy(labels[index].astype(np.int64))
    return Probe(inputs, targets, info.name, kind, seed, origin)
