"""Read CIFAR and ImageNet16 batch pickles without letting a data file run code."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from greenmachine.data.sources import ProbeSourceError

# Everything a batch of numpy arrays, lists and strings needs, in the module names numpy 1 and 2 write.
_ARRAY_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
})


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and plain values only."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ARRAY_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a batch of arrays never needs")
        return super().find_class(module, name)


def file_span(names: list[str] | tuple[str, ...]) -> str:
    """Return `a` for one file name and `a..z` (first..last) for several, for messages and origins."""
    return names[0] if len(names) == 1 else f"{names[0]}..{names[-1]}"


def read_batch(path: Path, label_key: str, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the images and labels of one batch pickle (CIFAR or ImageNet16 layout).

    The pickle is a dict (str keys from Python 2 files, bytes keys from Python 3 ones) with `data`
    uint8 [N, 3*side*side], channel-major rows, and `label_key` holding N integer labels.

    Args:
        path: the pickle file.
        label_key: `labels` (CIFAR-10, ImageNet16) or `fine_labels` (CIFAR-100).
        side: image height and width.

    Returns:
        images uint8 [N, 3, side, side] and labels int64 [N], as stored (no remapping).
    """
    expected = f"a pickled dict with data uint8 [N, {3 * side * side}] and {label_key} [N]"
    try:
        with path.open("rb") as file:
            batch = _ArrayUnpickler(file, encoding="latin1").load()
    except Exception as exc:  # a corrupt pickle can raise almost any exception type
        raise ProbeSourceError(f"{path} is not a readable batch pickle ({exc}); expected {expected}") from exc
    if not isinstance(batch, dict):
        raise ProbeSourceError(f"{path} holds a {type(batch).__name__}; expected {expected}")
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise ProbeSourceError(f"{path} has keys {', '.join(map(str, batch))}; expected {expected}")
    data, labels = np.asarray(batch["data"]), np.asarray(batch[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * side * side:
        raise ProbeSourceError(f"{path}: data is {data.dtype} {list(data.shape)}; expected {expected}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != data.shape[:1]:
        raise ProbeSourceError(f"{path}: {label_key} is {labels.dtype} {list(labels.shape)} for {len(data)} "
                               f"images; expected {expected}")
    return data.reshape(-1, 3, side, side), labels.astype(np.int64)
