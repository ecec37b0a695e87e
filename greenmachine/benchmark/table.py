"""The compact long table (`<data>/<space>/accuracies_long.csv.gz`): fast to load, one row per record."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from greenmachine.benchmark.base import Benchmark
from greenmachine.errors import DataNotFoundError, GreenmachineError
from greenmachine.spaces import get_space

TABLE_NAME = "accuracies_long.csv.gz"
COLUMNS = ("space", "arch_index", "arch", "dataset", "epochs", "test_acc", "valid_acc", "source")


def table_path(space: str, root: Path) -> Path:
    """Return where the compact table of `space` lives under the data folder `root`."""
    return Path(root) / space / TABLE_NAME


@lru_cache(maxsize=8)
def _load(path: str, mtime: float, space: str) -> Benchmark:
    frame = pd.read_csv(path, usecols=["arch_index", "dataset", "epochs", "test_acc", "valid_acc"],
                        dtype={"arch_index": np.int64, "dataset": str, "epochs": np.int64})
    size = get_space(space).size
    if frame.empty or frame.arch_index.min() < 0 or frame.arch_index.max() >= size:
        raise GreenmachineError(f"{path} is not a {space} table: arch_index must lie in 0..{size - 1}")
    values = {}
    for (dataset, epochs), group in frame.groupby(["dataset", "epochs"], sort=True):
        for metric in ("test", "valid"):
            column = group[f"{metric}_acc"]
            if column.notna().any():
                array = np.full(size, np.nan)
                array[group.arch_index.to_numpy()] = column.to_numpy(dtype=np.float64)
                values[(dataset, metric, int(epochs))] = array
    return Benchmark(space, values, path)


def load_table(space: str, root: Path) -> Benchmark:
    """Return the Benchmark of `space` from its compact table (parsed once per process and file version)."""
    path = table_path(space, root)
    if not path.is_file():
        raise DataNotFoundError(f"no compact accuracy table for {space} at {path}; `greenmachine convert` makes it "
                                "from official NATS-Bench files, `greenmachine fetch` downloads and converts them")
    return _load(str(path), path.stat().st_mtime, space)
