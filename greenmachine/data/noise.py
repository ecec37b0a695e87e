"""The `noise` source: Gaussian inputs and uniform labels, for datasets without local images."""

from __future__ import annotations

from pathlib import Path

import torch

from greenmachine.data.probe import Probe
from greenmachine.data.sources import SOURCES, SourceKind
from greenmachine.datasets import DatasetInfo


def noise_probe(info: DatasetInfo, path: Path | None, batch_size: int, seed: int, split: str) -> Probe:
    """Return a probe of N(0, 1) inputs (already on the normalised scale) and uniform random labels.

    Both are drawn, inputs first, from one `torch.Generator` seeded with `seed`; `path` and `split`
    do not apply to noise.

    Returns:
        Probe with inputs float32 [B, 3, R, R] (R = info.resolution) and targets int64 [B] in 0..K-1.
    """
    generator = torch.Generator().manual_seed(seed)
    side = info.resolution
    inputs = torch.randn(batch_size, 3, side, side, generator=generator, dtype=torch.float32)
    targets = torch.randint(info.num_classes, (batch_size,), generator=generator, dtype=torch.int64)
    origin = f"noise: N(0,1) inputs [{batch_size},3,{side},{side}], labels uniform over {info.num_classes} classes"
    return Probe(inputs, targets, info.name, "noise", seed, origin)


SOURCES.add("noise", SourceKind(noise_probe, "Gaussian noise (no path)"))
