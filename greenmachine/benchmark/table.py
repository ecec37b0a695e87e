"""The compact long table (`<data>/<space>/accuracies_long.csv.gz`): fast to load, one row per record.

Columns `space, arch_index, arch, dataset, epochs, test_acc, valid_acc, source`: one row per
(arch, dataset, epochs), accuracies in percent (NaN where the record has no such metric).
"""

from __future__ import annotations

import gzip
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from greenmachine.benchmark.base import Benchmark, check_complete
from greenmachine.errors import CorruptFileError, DataNotFoundError, GreenmachineError, describe
from greenmachine.files import atomic_open
from greenmachine.spaces import get_space

TABLE_NAME = "accuracies_long.csv.gz"
COLUMNS = ("space", "arch_index", "arch", "dataset", "epochs", "test_acc", "valid_acc", "source")


def table_path(space: str, root: Path) -> Path:
    """Return where the compact table of `space` lives under the data folder `root`."""
    return Path(root) / space / TABLE_NAME


def _invalid(path: str, space: str, why: str) -> GreenmachineError:
    return GreenmachineError(f"{path} is not a valid {space} accuracy table: {why}. Rebuild it with `greenmachine convert`")


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int, space: str) -> Benchmark:
    # mtime and size are part of the key so that a rewritten file is parsed again, never served stale.
    try:
        frame = pd.read_csv(path, dtype={"arch_index": np.int64, "epochs": np.int64, "test_acc": np.float64,
                                         "valid_acc": np.float64})
    except (OSError, EOFError, ValueError, UnicodeDecodeError, zlib.error) as exc:  # empty, truncated, not gzip
        raise CorruptFileError(path, describe(exc), "rebuild it with `greenmachine convert` (or download it again "
                                                    "with `greenmachine fetch`)") from exc
    if tuple(frame.columns) != COLUMNS:
        raise _invalid(path, space, f"its columns are {list(frame.columns)}, expected {list(COLUMNS)}")
    if frame.empty:
        raise _invalid(path, space, "it has no rows")
    spaces = sorted(frame.space.unique())
    if spaces != [space]:
        raise _invalid(path, space, f"its space column holds {spaces}")
    n = get_space(space).size
    index = frame.arch_index.to_numpy()
    if index.min() < 0 or index.max() >= n:
        raise _invalid(path, space, f"arch_index must lie in 0..{n - 1}, found {index.min()}..{index.max()}")
    # The index -> string mapping is what every later lookup trusts, so check it against the space.
    official = np.array([get_space(space).arch_string(i) for i in range(n)], dtype=object)
    wrong = np.flatnonzero(frame.arch.to_numpy(dtype=object) != official[index])
    if len(wrong):
        row = frame.iloc[wrong[0]]
        raise _invalid(path, space, f"{len(wrong)} rows name the wrong arch, e.g. arch_index {row.arch_index} is "
                                    f"{official[row.arch_index]!r}, not {row.arch!r}")
    duplicated = frame.duplicated(["arch_index", "dataset", "epochs"])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise _invalid(path, space, f"{int(duplicated.sum())} duplicate rows, e.g. arch {row.arch_index} "
                                    f"{row.dataset} {row.epochs} epochs")
    values = {}
    for (dataset, epochs), group in frame.groupby(["dataset", "epochs"], sort=True):
        for metric in ("test", "valid"):
            column = group[f"{metric}_acc"]
            if column.notna().any():
                array = np.full(n, np.nan)
                array[group.arch_index.to_numpy()] = column.to_numpy(dtype=np.float64)
                values[(str(dataset), metric, int(epochs))] = array
    return Benchmark(space, values, path)


def load_table(space: str, root: Path, allow_partial: bool = False) -> Benchmark:
    """Return the Benchmark of `space` from its compact table (parsed once per process and file version).

    Raises DataNotFoundError when the file is absent, GreenmachineError when it is malformed, and
    PartialBenchmarkError when it lacks some archs' records unless `allow_partial`.
    """
    path = table_path(space, root)
    if not path.is_file():
        raise DataNotFoundError(f"no compact accuracy table for {space} at {path}; `greenmachine convert` makes it "
                                "from official NATS-Bench files, `greenmachine fetch` downloads and converts them")
    stat = path.stat()
    return check_complete(_load(str(path), stat.st_mtime_ns, stat.st_size, space), allow_partial)


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` (exactly COLUMNS) as the gzip CSV `path`, atomically and byte-reproducibly; return `path`.

    Floats are written in Python's shortest round-trip form, so reading back gives the same values.
    """
    if tuple(frame.columns) != COLUMNS:
        raise GreenmachineError(f"a compact table needs the columns {list(COLUMNS)}, got {list(frame.columns)}")
    with atomic_open(path) as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(frame.to_csv(index=False, lineterminator="\n").encode())
    return path
