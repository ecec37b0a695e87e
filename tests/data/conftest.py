"""Tiny CIFAR and ImageNet16 folders written in the archives' real pickle formats, and the shared probe images."""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from greenmachine.paths import data_dir


def _py2_string(raw: bytes) -> bytes:
    """Return the pickle opcodes of a Python 2 byte string (SHORT_BINSTRING or BINSTRING)."""
    return b"U" + bytes([len(raw)]) + raw if len(raw) < 256 else b"T" + struct.pack("<i", len(raw)) + raw


def _py2_value(value: object) -> bytes:
    """Return the opcodes Python 2's cPickle wrote for a str, int, list or 2-D uint8 array (numpy 1)."""
    if isinstance(value, str):
        return _py2_string(value.encode("latin1"))
    if isinstance(value, int):
        return b"J" + struct.pack("<i", value)
    if isinstance(value, list):
        return b"](" + b"".join(map(_py2_value, value)) + b"e"
    assert isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 2
    dtype = (b"cnumpy\ndtype\n" + _py2_string(b"u1") + _py2_value(0) + _py2_value(1) + b"\x87R("
             + _py2_value(3) + _py2_string(b"|") + b"NNN" + _py2_value(-1) + _py2_value(-1) + _py2_value(0) + b"tb")
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _py2_value(0) + b"\x85" + _py2_string(b"b")
            + b"\x87R(" + _py2_value(1) + _py2_value(value.shape[0]) + _py2_value(value.shape[1]) + b"\x86" + dtype
            + b"\x89" + _py2_string(value.tobytes()) + b"tb")


def write_py2_batch(path: Path, batch: dict[str, object]) -> None:
    """Write `batch` as the CIFAR archives store it: a Python 2 cPickle (protocol 2) with byte-string keys and data."""
    items = b"".join(_py2_string(key.encode()) + _py2_value(value) for key, value in batch.items())
    path.write_bytes(b"\x80\x02}(" + items + b"u.")


def write_bytes_keyed_batch(path: Path, batch: dict[str, object]) -> None:
    """Pickle `batch` from Python 3 with bytes keys (how `pickle.load(encoding="bytes")` returns the archives)."""
    path.write_bytes(pickle.dumps({key.encode(): value for key, value in batch.items()}, protocol=2))


def write_batch(path: Path, batch: dict[str, object]) -> None:
    """Pickle `batch` from Python 3 with str keys and the current protocol."""
    path.write_bytes(pickle.dumps(batch))


@dataclass(frozen=True)
class FakeData:
    """A fake dataset folder and the batches written into it, keyed by file name."""

    root: Path
    batches: dict[str, dict[str, object]]


def _cifar_batch(rng: np.random.Generator, n: int, label_key: str, classes: int) -> dict[str, object]:
    batch = {"batch_label": "fake", "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             label_key: [int(v) for v in rng.integers(0, classes, n)], "filenames": [f"img_{i}.png" for i in range(n)]}
    if label_key == "fine_labels":
        batch["coarse_labels"] = [int(v) // 5 for v in batch[label_key]]
    return batch


@pytest.fixture
def cifar10_root(tmp_path: Path) -> FakeData:
    """A CIFAR root with only cifar-10-batches-py (Python 2 pickles): train batches of 4 images, a test batch of 6."""
    rng = np.random.default_rng(10)
    folder = tmp_path / "cifar10_root" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {f"data_batch_{i}": _cifar_batch(rng, 4, "labels", 10) for i in range(1, 6)}
    batches["test_batch"] = _cifar_batch(rng, 6, "labels", 10)
    for name, batch in batches.items():
        write_py2_batch(folder / name, batch)
    write_py2_batch(folder / "batches.meta", {"label_names": ["airplane"] * 10})
    return FakeData(folder.parent, batches)


@pytest.fixture
def cifar100_root(tmp_path: Path) -> FakeData:
    """A CIFAR root with only cifar-100-python (bytes-keyed pickles): a train batch of 12 images, a test batch of 5."""
    rng = np.random.default_rng(100)
    folder = tmp_path / "cifar100_root" / "cifar-100-python"
    folder.mkdir(parents=True)
    batches = {"train": _cifar_batch(rng, 12, "fine_labels", 100), "test": _cifar_batch(rng, 5, "fine_labels", 100)}
    for name, batch in batches.items():
        write_bytes_keyed_batch(folder / name, batch)
    return FakeData(folder.parent, batches)


@pytest.fixture
def imagenet16_root(tmp_path: Path) -> FakeData:
    """An ImageNet16 folder: ten train batches of 8 images and val_data of 10, labels 1-based over 1000 classes."""
    rng = np.random.default_rng(16)
    folder = tmp_path / "imagenet16"
    folder.mkdir()
    label_choices = np.array([1, 2, 60, 119, 120, 121, 500, 1000])  # half inside ImageNet16-120's 1..120
    batches = {}
    for name, n in [*((f"train_data_batch_{i}", 8) for i in range(1, 11)), ("val_data", 10)]:
        batches[name] = {"data": rng.integers(0, 256, (n, 768), dtype=np.uint8),
                         "labels": [int(v) for v in rng.choice(label_choices, n)],
                         "mean": rng.random(768)}
        write_batch(folder / name, batches[name])
    return FakeData(folder, batches)


@pytest.fixture(scope="session")
def images_dir() -> Path:
    """The shared probe images folder."""
    return data_dir() / "images"
