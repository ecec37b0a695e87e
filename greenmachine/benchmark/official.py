"""Official NATS-Bench files (the `*-simple` folders) read through the `nats_bench` API in fast mode.

Accuracies follow `get_more_info(index, dataset, hp, is_random=False)` (the mean over training seeds):
`test` is its `test-accuracy` (cifar10 and cifar10-valid: ori-test; cifar100 and ImageNet16-120:
x-test) and `valid` its `valid-accuracy` (x-valid; cifar10, trained on train+valid, has none).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from greenmachine.benchmark.base import Benchmark, PartialBenchmarkError
from greenmachine.errors import DataNotFoundError, GreenmachineError
from greenmachine.spaces import all_spaces, get_space
from greenmachine.spaces.base import OfficialFiles

_RECORD = re.compile(r"(\d{6})\.pickle\.pbz2")

__all__ = ["PartialBenchmarkError", "iter_records", "load_official", "official_files", "official_folder",
           "recorded_archs"]


def official_files(space: str) -> OfficialFiles:
    """Return the official release of `space`; raises GreenmachineError naming the spaces that have one."""
    files = get_space(space).official
    if files is None:
        having = [s.name for s in all_spaces() if s.official is not None]
        raise GreenmachineError(f"space {space!r} has no official files that greenmachine reads (its ground truth is "
                                f"{get_space(space).ground_truth}); spaces with official files: {', '.join(having)}")
    return files


def official_folder(space: str, root: str | Path) -> Path:
    """Return the official folder of `space` under `root` ($TORCH_HOME-style), or `root` itself if it is one.

    Raises DataNotFoundError naming the folder looked at when it holds no `meta.pickle.pbz2`.
    """
    name = official_files(space).folder
    root = Path(root)
    folder = root if root.name == name else root / name
    if not (folder / "meta.pickle.pbz2").is_file():
        raise DataNotFoundError(f"no official NATS-Bench {space} files at {folder} (expected {name}/ with "
                                "meta.pickle.pbz2 and one NNNNNN.pickle.pbz2 per arch); `greenmachine fetch` downloads them")
    return folder


def recorded_archs(folder: Path) -> list[int]:
    """Return the arch indices whose record files are in an official folder, sorted."""
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _RECORD.fullmatch(p.name)))


def _open_api(space: str, folder: Path):
    from nats_bench import create

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = create(str(folder), official_files(space).api, fast_mode=True, verbose=False)
    ours = get_space(space)
    if len(api.meta_archs) != ours.size:
        raise GreenmachineError(f"{folder}/meta.pickle.pbz2 lists {len(api.meta_archs)} archs, {space} has {ours.size}")
    for index, arch_str in enumerate(api.meta_archs):
        if arch_str != ours.arch_string(index):
            raise GreenmachineError(f"{folder}/meta.pickle.pbz2 names arch {index} {arch_str!r}, but {space} "
                                    f"arch {index} is {ours.arch_string(index)!r}: not the official {space} files")
    return api


def _read_record(api, folder: Path, index: int) -> Iterator[tuple[str, int, float, float]]:
    """Yield (dataset, epochs, test, valid) for every training length and dataset in one arch's record."""
    api.reload(str(folder), index)
    try:
        for hp, results in api.arch2infos_dict[index].items():
            for dataset in results.get_dataset_names():
                info = api.get_more_info(index, dataset, hp=hp, is_random=False)
                yield (dataset, int(hp), float(info.get("test-accuracy", np.nan)),
                       float(info.get("valid-accuracy", np.nan)))
    finally:
        # The API keeps every record it loads (about 4 MB each in memory): a whole space would not fit.
        api.arch2infos_dict.pop(index, None)
        api.evaluated_indexes.discard(index)


def iter_records(space: str, root: str | Path, allow_partial: bool = False,
                 progress: bool = True) -> Iterator[tuple[int, str, str, int, float, float]]:
    """Yield (arch, arch string, dataset, epochs, test accuracy, valid accuracy) for every official record.

    One tuple per (arch, dataset, training length) the files hold (TSS: 12 and 200 epochs, SSS: 1, 12
    and 90); NaN where the record has no such metric. Raises PartialBenchmarkError for a folder
    lacking records unless `allow_partial`, GreenmachineError if its arch list is not the space's.
    """
    space = get_space(space).name
    folder = official_folder(space, root)
    size = get_space(space).size
    archs = recorded_archs(folder)
    if not archs:
        raise DataNotFoundError(f"{folder} holds no arch records (NNNNNN.pickle.pbz2); `greenmachine fetch` downloads them")
    if len(archs) < size and not allow_partial:
        raise PartialBenchmarkError(f"{folder} holds {len(archs)} of {size} arch records: a partial download? "
                                    "Download the whole archive (`greenmachine fetch`), or pass allow_partial=True "
                                    "to read only the archs it has")
    api = _open_api(space, folder)
    for index in tqdm(archs, desc=f"reading official {space} accuracy records", unit="arch", disable=not progress):
        arch_str = api.meta_archs[index]
        for dataset, epochs, test, valid in _read_record(api, folder, index):
            yield index, arch_str, dataset, epochs, test, valid


def load_official(space: str, root: str | Path, allow_partial: bool = False, progress: bool = True) -> Benchmark:
    """Return the Benchmark of `space` read from official files (slow for a whole space: convert once instead).

    Args:
        space: a space with official NATS-Bench files (`nats_tss`, `nats_sss`).
        root: the folder holding `NATS-tss-v1_0-3ffb9-simple/` or `NATS-sss-v1_0-50262-simple/` (or that folder).
        allow_partial: accept a folder holding only some arch records; the others are NaN, and asking
            for one of them raises MissingRecordError naming it.
        progress: show a progress bar over the arch records.
    """
    space = get_space(space).name
    size = get_space(space).size
    values: dict[tuple[str, str, int], np.ndarray] = {}
    for index, _, dataset, epochs, test, valid in iter_records(space, root, allow_partial, progress):
        for metric, value in (("test", test), ("valid", valid)):
            if not np.isnan(value):
                values.setdefault((dataset, metric, epochs), np.full(size, np.nan))[index] = value
    return Benchmark(space, values, str(official_folder(space, root)))
