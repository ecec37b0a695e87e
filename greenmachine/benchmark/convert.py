"""Official NATS-Bench files -> the compact long table, once, so later runs load in a second."""

from __future__ import annotations

import gzip
import os
import uuid
from pathlib import Path

import pandas as pd

from greenmachine.benchmark.official import official_folder, iter_records
from greenmachine.benchmark.table import COLUMNS, table_path


def convert_official(space: str, official_root: str | Path, out_dir: str | Path, allow_partial: bool = False,
                     progress: bool = True) -> Path:
    """Write `<out_dir>/<space>/accuracies_long.csv.gz` from the official files of `space`; return its path.

    The table has one row per (arch, dataset, epochs) with test and valid accuracy (columns
    `space, arch_index, arch, dataset, epochs, test_acc, valid_acc, source`) and is written
    atomically. A partial official folder is refused unless `allow_partial`.
    """
    folder = official_folder(space, official_root)
    rows = [(space, index, arch, dataset, epochs, test, valid, f"{folder.name}/{index:06d}.pickle.pbz2")
            for index, arch, dataset, epochs, test, valid in iter_records(space, official_root, allow_partial, progress)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    path = table_path(space, Path(out_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with gzip.open(tmp, "wt", newline="") as f:
        frame.to_csv(f, index=False, float_format="%.17g")
    os.replace(tmp, path)
    return path
