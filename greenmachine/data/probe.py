"""The probe: the fixed batch, seed and description used to inspect an untrained network."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Probe:
    """A probe batch and how it was made.

    Attributes:
        inputs: normalised images, float32 [B, 3, H, W].
        targets: class labels, int64 [B].
        dataset: NATS dataset name the images are normalised for.
        source: where the images came from (`noise`, `npz`, `cifar`, `imagenet16`).
        seed: the seed that drew the batch; proxies derive their own random draws from it.
        origin: a human-readable description of the exact files used (path, split), for run records.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    dataset: str
    source: str
    seed: int
    origin: str = ""
    _digest: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def batch_size(self) -> int:
        """Return the number of images B."""
        return int(self.inputs.shape[0])

    def digest(self) -> str:
        """Return a short content hash of inputs and targets (part of every cache key)."""
        if not self._digest:
            h = hashlib.sha256()
            h.update(self.inputs.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
            h.update(self.targets.detach().to("cpu", torch.int64).contiguous().numpy().tobytes())
            self._digest.append(h.hexdigest()[:16])
        return self._digest[0]

    def settings(self) -> dict[str, object]:
        """Return the probe's description as plain values (for run records and cache keys)."""
        return {
            "dataset": self.dataset,
            "source": self.source,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "resolution": int(self.inputs.shape[-1]),
            "digest": self.digest(),
        }

    def to(self, device: torch.device | str) -> Probe:
        """Return the same probe with tensors on `device`."""
        return Probe(self.inputs.to(device), self.targets.to(device), self.dataset, self.source, self.seed, self.origin,
                     self._digest)
