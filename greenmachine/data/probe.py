"""The probe: the fixed batch, seed and description used to inspect an untrained network."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from greenmachine.errors import GreenmachineError


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


def user_probe(batch: Probe | torch.Tensor | tuple | list, seed: int = 0, labelled: Sequence[str] = ()) -> Probe:
    """Return the probe a caller handed over: a Probe as is, images [B, C, H, W], or (images, labels [B]).

    Images without labels get label 0, which only label-free statistics may read. Raises
    GreenmachineError naming what was given and the valid forms, and naming the statistics in
    `labelled` (those the caller will read that depend on labels) when the labels are missing.
    """
    if isinstance(batch, Probe):
        return batch
    forms = "valid: a Probe (greenmachine.data.probe_batch), images float [B, C, H, W], or (images, labels int [B])"
    inputs, targets = batch, None
    if isinstance(batch, (tuple, list)):
        if len(batch) != 2:
            raise GreenmachineError(f"probe is a {type(batch).__name__} of length {len(batch)}; {forms}")
        inputs, targets = batch
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4 or not inputs.is_floating_point():
        described = (f"a {inputs.dtype} tensor of shape {tuple(inputs.shape)}" if isinstance(inputs, torch.Tensor)
                     else f"a {type(inputs).__name__}")
        raise GreenmachineError(f"probe images are {described}; {forms}")
    if targets is None:
        if labelled:
            raise GreenmachineError(f"this reads {', '.join(sorted(labelled))}, which depend on labels; "
                                    f"pass the images' labels too (int [{inputs.shape[0]}])")
        targets = torch.zeros(inputs.shape[0], dtype=torch.long, device=inputs.device)
    elif not isinstance(targets, torch.Tensor) or targets.shape != (inputs.shape[0],) or targets.is_floating_point():
        described = (f"a {targets.dtype} tensor of shape {tuple(targets.shape)}" if isinstance(targets, torch.Tensor)
                     else f"a {type(targets).__name__}")
        raise GreenmachineError(f"probe labels are {described}, not int [{inputs.shape[0]}]; {forms}")
    return Probe(inputs, targets, "custom", "user", seed)
