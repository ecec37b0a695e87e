"""Official NATS-Bench files -> the compact long table, once, so later runs load in a fraction of a second."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from greenmachine.benchmark.official import iter_records, official_folder
from greenmachine.benchmark.table import COLUMNS, table_path, write_table
from greenmachine.spaces import get_space


def convert_official(space: str, official_root: str | Path, out_dir: str | Path, allow_partial: bool = False,
                     progress: bool = True) -> Path:
    """Write `<out_dir>/<space>/accuracies_long.csv.gz` from the official files of `space`; return its path.

    The table has one row per (arch, dataset, training length) the official records hold, with test
    and valid accuracy (columns `space, arch_index, arch, dataset, epochs, test_acc, valid_acc,
    source`), and is written atomically (temporary file, then os.replace). A partial official folder
    is refused unless `allow_partial`; `load_benchmark(space, data_dir=out_dir)` then reads it back
    (with allow_partial=True for a partial one).

    Args:
        space: a space with official NATS-Bench files (`nats_tss`, `nats_sss`).
        official_root: the folder holding the official `*-simple` folder (or that folder itself).
        out_dir: the data folder to write into.
        allow_partial: convert a folder holding only some arch records.
        progress: show a progress bar over the arch records.
    """
    space = get_space(space).name
    folder = official_folder(space, official_root)
    rows = [(space, index, arch, dataset, epochs, test, valid, f"{folder.name}/{index:06d}.pickle.pbz2")
            for index, arch, dataset, epochs, test, valid in iter_records(space, official_root, allow_partial, progress)]
    return write_table(pd.DataFrame(rows, columns=list(COLUMNS)), table_path(space, Path(out_dir)))
