"""Official NATS-Bench files (the `*-simple` folders) read through the `nats_bench` API in fast mode."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from greenmachine.benchmark.base import Benchmark
from greenmachine.errors import DataNotFoundError, GreenmachineError
from greenmachine.spaces import get_space

FOLDERS = {"nats_tss": "NATS-tss-v1_0-3ffb9-simple", "nats_sss": "NATS-sss-v1_0-50262-simple"}
API_NAMES = {"nats_tss": "tss", "nats_sss": "sss"}
HPS = {"nats_tss": ("12", "200"), "nats_sss": ("01", "12", "90")}
DATASETS = ("cifar10", "cifar10-valid", "cifar100", "ImageNet16-120")
_RECORD = re.compile(r"(\d{6})\.pickle\.pbz2")


class PartialBenchmarkError(DataNotFoundError):
    """An official folder that holds records of only some archs."""


def official_folder(space: str, root: str | Path) -> Path:
    """Return the official folder of `space` under `root` ($TORCH_HOME-style), or `root` itself if it is one."""
    root = Path(root)
    folder = root if root.name == FOLDERS[space] else root / FOLDERS[space]
    if not (folder / "meta.pickle.pbz2").is_file():
        raise DataNotFoundError(f"no official NATS-Bench {space} files at {folder} (expected {FOLDERS[space]}/ with "
                                "meta.pickle.pbz2 and one NNNNNN.pickle.pbz2 per arch); `greenmachine fetch` downloads them")
    return folder


def recorded_archs(folder: Path) -> list[int]:
    """Return the arch indices whose record files are in an official folder, sorted."""
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _RECORD.fullmatch(p.name)))


def iter_records(space: str, root: str | Path, allow_partial: bool = False,
                 progress: bool = True) -> Iterator[tuple[int, str, str, int, float, float]]:
    """Yield (arch, arch string, dataset, epochs, test accuracy, valid accuracy) for every official record.

    Accuracies follow `get_more_info(index, dataset, hp, is_random=False)`: cifar10 = ori-test,
    cifar10-valid = x-valid and ori-test, cifar100 / ImageNet16-120 = x-valid and x-test; NaN where
    the record has no such metric. Raises PartialBenchmarkError for a folder lacking records unless
    `allow_partial`.
    """
    folder = official_folder(space, root)
    size = get_space(space).size
    archs = recorded_archs(folder)
    if len(archs) < size and not allow_partial:
        raise PartialBenchmarkError(f"{folder} holds {len(archs)} of {size} arch records: a partial download? "
                                    "Download the whole archive (`greenmachine fetch`), or pass allow_partial=True "
                                    "to read only the archs it has")
    from nats_bench import create

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = create(str(folder), API_NAMES[space], fast_mode=True, verbose=False)
    for index in tqdm(archs, desc=f"official {space} records", unit="arch", disable=not progress):
        arch_str = api.meta_archs[index]
        for hp in HPS[space]:
            for dataset in DATASETS:
                try:
                    info = api.get_more_info(index, dataset, hp=hp, is_random=False)
                except (KeyError, ValueError):  # this record has no such dataset or training length
                    continue
                test = info.get("test-accuracy")
                valid = info.get("valid-accuracy")
                yield (index, arch_str, dataset, int(hp), np.nan if test is None else float(test),
                       np.nan if valid is None else float(valid))
        api.clear_params(index)


def load_official(space: str, root: str | Path, allow_partial: bool = False, progress: bool = True) -> Benchmark:
    """Return the Benchmark of `space` read from official files (slow: `greenmachine convert` once instead)."""
    size = get_space(space).size
    values: dict[tuple[str, str, int], np.ndarray] = {}
    for index, _, dataset, epochs, test, valid in iter_records(space, root, allow_partial, progress):
        for metric, value in (("test", test), ("valid", valid)):
            if not np.isnan(value):
                values.setdefault((dataset, metric, epochs), np.full(size, np.nan))[index] = value
    if not values:
        raise GreenmachineError(f"no accuracy record could be read from {official_folder(space, root)}")
    return Benchmark(space, values, str(official_folder(space, root)))
