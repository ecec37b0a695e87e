"""Atomic file writes: a reader never sees half a file, and concurrent writers never share a temporary file.

Every file greenmachine writes for later reading (cache shards and manifests, checkpoints, reports,
tables, exported proxies, downloads) goes through `atomic_open`: the bytes go to a uniquely named
temporary file in the same folder, are flushed to disk, and replace the target in one rename; on an
error the target is left as it was and the temporary file is removed.
"""

from __future__ import annotations

import os
import pickle
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np


@contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Yield a binary file whose contents replace `path` when the block ends without an error (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_open(path) as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to `path` as a compressed .npz, atomically."""
    with atomic_open(path) as f:
        np.savez_compressed(f, **arrays)


def atomic_write_pickle(path: str | Path, payload: object) -> None:
    """Pickle `payload` to `path` (highest protocol), atomically."""
    with atomic_open(path) as f:
        pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
